# Values that would break the deployment are refused at plan time.
variables {
  admin_ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBf0RlwPLXtlnYpq1d8MUBOSRwP/Yx0yOxBB0OGdfc4Y ops@example.org"]
  admin_cidrs           = ["203.0.113.7/32"]
  public_addresses      = { app1 = "192.0.2.10" }
}

run "idle_timeout_must_exceed_ping_interval" {
  command = plan
  variables {
    load_balancer_idle_timeout = 20
  }
  expect_failures = [var.load_balancer_idle_timeout]
}

run "idle_timeout_follows_a_longer_ping_interval" {
  command = plan
  variables {
    websocket_ping_interval    = 90
    load_balancer_idle_timeout = 60
  }
  expect_failures = [var.load_balancer_idle_timeout]
}

run "ssh_from_anywhere_is_refused" {
  command = plan
  variables {
    admin_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.admin_cidrs]
}

run "ssh_from_anywhere_v6_is_refused" {
  command = plan
  variables {
    admin_cidrs = ["::/0"]
  }
  expect_failures = [var.admin_cidrs]
}

run "private_key_is_refused" {
  command = plan
  variables {
    admin_ssh_public_keys = ["-----BEGIN OPENSSH PRIVATE KEY-----"]
  }
  expect_failures = [var.admin_ssh_public_keys]
}

run "no_key_is_refused" {
  command = plan
  variables {
    admin_ssh_public_keys = []
  }
  expect_failures = [var.admin_ssh_public_keys]
}

run "unknown_topology_is_refused" {
  command = plan
  variables {
    topology = "mesh"
  }
  expect_failures = [var.topology]
}

run "root_is_not_the_admin" {
  command = plan
  variables {
    admin_user = "root"
  }
  expect_failures = [var.admin_user]
}

run "inventory_needs_every_address" {
  command = plan
  variables {
    topology         = "cluster"
    public_addresses = { lb1 = "192.0.2.10" }
  }
  expect_failures = [output.ansible_inventory]
}
