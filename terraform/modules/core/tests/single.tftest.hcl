# One host in every group, no cloud load balancer: the shape of ansible/inventories/single-host.
variables {
  topology              = "single"
  admin_ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBf0RlwPLXtlnYpq1d8MUBOSRwP/Yx0yOxBB0OGdfc4Y ops@example.org"]
  admin_cidrs           = ["203.0.113.7/32"]
  public_addresses      = { app1 = "192.0.2.10" }
}

run "inventory" {
  command = apply

  assert {
    condition     = yamldecode(output.ansible_inventory).all.hosts.app1.ansible_host == "192.0.2.10"
    error_message = "app1's ansible_host is not its public address."
  }
  assert {
    condition     = yamldecode(output.ansible_inventory).all.hosts.app1.ansible_user == "admin"
    error_message = "ansible_user is not the admin user."
  }
  assert {
    condition = alltrue([
      for group in ["lb", "web", "data"] : jsonencode(keys(yamldecode(output.ansible_inventory).all.children[group].hosts)) == jsonencode(["app1"])
    ])
    error_message = "app1 must be the only host of lb, web and data."
  }
}

run "cloud_init" {
  command = apply

  assert {
    condition     = startswith(output.user_data, "#cloud-config\n")
    error_message = "user-data must start with #cloud-config."
  }
  assert {
    condition     = yamldecode(output.user_data).users[0].name == "admin" && jsonencode(yamldecode(output.user_data).users[0].ssh_authorized_keys) == jsonencode(var.admin_ssh_public_keys)
    error_message = "cloud-init must create admin with the given keys."
  }
  assert {
    condition     = yamldecode(output.user_data).users[0].sudo == "ALL=(ALL) NOPASSWD:ALL" && yamldecode(output.user_data).users[0].lock_passwd
    error_message = "admin needs sudo without a password (Ansible's become) and no password login."
  }
  assert {
    condition     = jsonencode(yamldecode(output.user_data).packages) == jsonencode(["python3"]) && !yamldecode(output.user_data).ssh_pwauth
    error_message = "cloud-init installs python3 and nothing else, with SSH passwords off."
  }
}

run "firewall" {
  command = apply

  assert {
    condition     = jsonencode([for rule in output.firewall_rules : rule.name]) == jsonencode(["ssh", "http", "https"])
    error_message = "A single host opens SSH, HTTP and HTTPS only."
  }
  assert {
    condition     = output.firewall_rules[0].from_port == 22 && jsonencode(output.firewall_rules[0].source_cidrs) == jsonencode(["203.0.113.7/32"])
    error_message = "SSH must be open to admin_cidrs only."
  }
  assert {
    condition     = alltrue([for rule in output.firewall_rules : jsonencode(rule.source_cidrs) == jsonencode(["0.0.0.0/0", "::/0"]) if contains([80, 443], rule.from_port)])
    error_message = "80 and 443 must be open to everyone."
  }
  assert {
    condition     = length([for rule in output.firewall_rules : rule if contains([6379, 5432, 8000, 8001], rule.from_port)]) == 0
    error_message = "Redis, PostgreSQL and the app's ports stay closed on a single host (they listen on loopback / unix sockets)."
  }
}
