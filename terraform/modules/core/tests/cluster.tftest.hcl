# lb1, web1..webN, data1 on a private network: the shape of ansible/inventories/cluster.
variables {
  topology              = "cluster"
  web_count             = 2
  admin_ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBf0RlwPLXtlnYpq1d8MUBOSRwP/Yx0yOxBB0OGdfc4Y ops@example.org"]
  admin_cidrs           = ["203.0.113.0/24", "2001:db8::/48"]
  public_addresses      = { lb1 = "192.0.2.10", web1 = "192.0.2.11", web2 = "192.0.2.12", data1 = "192.0.2.13" }
}

run "inventory" {
  command = apply

  assert {
    condition     = jsonencode(keys(yamldecode(output.ansible_inventory).all.children.web.hosts)) == jsonencode(["web1", "web2"])
    error_message = "web must hold web1 and web2."
  }
  assert {
    condition     = jsonencode(yamldecode(output.ansible_inventory).all.children.lb.hosts.lb1) == jsonencode({ ansible_host = "192.0.2.10", private_address = "10.0.1.10" })
    error_message = "lb1 needs its public ansible_host and its private_address."
  }
  assert {
    condition     = yamldecode(output.ansible_inventory).all.children.data.hosts.data1.private_address == "10.0.1.20"
    error_message = "data1's private address is fixed (10.0.1.20), whatever web_count is."
  }
  assert {
    condition     = yamldecode(output.ansible_inventory).all.vars.ansible_user == "admin"
    error_message = "ansible_user is set for all hosts."
  }
  assert {
    condition     = alltrue([for host in output.hosts : cidrhost("${output.private_subnet_cidr}", 0) == cidrhost("${host.private_address}/24", 0)])
    error_message = "Every private address must be in the hosts' subnet."
  }
}

run "firewall" {
  command = apply

  assert {
    condition = alltrue([
      for rule in output.firewall_rules : jsonencode(rule.source_cidrs) == jsonencode(["10.0.0.0/16"])
      if contains(["redis", "postgresql", "daphne", "http-server"], rule.name)
    ])
    error_message = "Redis, PostgreSQL, daphne and the HTTP server are open inside the private network only."
  }
  assert {
    condition     = jsonencode([for rule in output.firewall_rules_by_group.data : rule.from_port]) == jsonencode([22, 6379, 5432])
    error_message = "The data host opens SSH, Redis and PostgreSQL only."
  }
  assert {
    condition     = jsonencode([for rule in output.firewall_rules_by_group.web : [rule.from_port, rule.to_port]]) == jsonencode([[22, 22], [8001, 8002], [8000, 8000]])
    error_message = "A web host opens SSH, daphne 8001-8002 and the HTTP server 8000 only."
  }
  assert {
    condition     = jsonencode([for rule in output.firewall_rules_by_group.lb : rule.from_port]) == jsonencode([22, 80, 443])
    error_message = "Without a cloud load balancer, the lb host takes SSH, 80 and 443."
  }
  assert {
    condition     = !contains(keys(output.firewall_rules_by_group), "load_balancer")
    error_message = "No load_balancer group without a load balancer."
  }
}

run "more_web_hosts_keep_addresses" {
  command = apply

  variables {
    web_count        = 3
    public_addresses = { lb1 = "192.0.2.10", web1 = "192.0.2.11", web2 = "192.0.2.12", web3 = "192.0.2.14", data1 = "192.0.2.13" }
  }

  assert {
    condition     = jsonencode({ for host in output.hosts : host.name => host.private_address }) == jsonencode({ lb1 = "10.0.1.10", web1 = "10.0.1.100", web2 = "10.0.1.101", web3 = "10.0.1.102", data1 = "10.0.1.20" })
    error_message = "Adding a web host must not renumber the others."
  }
}

run "with_load_balancer" {
  command = apply

  variables {
    load_balancer              = true
    load_balancer_idle_timeout = 120
  }

  assert {
    condition     = output.load_balancer.enabled && output.load_balancer.idle_timeout == 120 && output.load_balancer.health_check_path == "/healthz"
    error_message = "The load balancer's settings come from the variables."
  }
  assert {
    condition     = jsonencode([for rule in output.firewall_rules_by_group.load_balancer : rule.from_port]) == jsonencode([80, 443])
    error_message = "The load balancer takes 80 and 443 from anywhere."
  }
  assert {
    condition     = jsonencode([for rule in output.firewall_rules_by_group.lb : [rule.from_port, rule.source_cidrs]]) == jsonencode([[22, ["203.0.113.0/24", "2001:db8::/48"]], [80, ["10.0.0.0/16"]]])
    error_message = "Behind a load balancer, nginx takes plain HTTP from the private network only."
  }
}
