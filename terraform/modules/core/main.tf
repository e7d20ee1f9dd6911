locals {
  cluster = var.topology == "cluster"

  # Hosts on the private network: 10.0.1.0/24 by default. Fixed offsets per group, so adding a
  # web host never renumbers the load balancer or the data host (which would replace them).
  private_subnet_cidr = cidrsubnet(var.private_network_cidr, 24 - tonumber(split("/", var.private_network_cidr)[1]), 1)

  planned_hosts = local.cluster ? concat(
    [{ name = "lb1", groups = ["lb"], private_address = cidrhost(local.private_subnet_cidr, 10) }],
    [for i in range(var.web_count) : { name = "web${i + 1}", groups = ["web"], private_address = cidrhost(local.private_subnet_cidr, 100 + i) }],
    [{ name = "data1", groups = ["data"], private_address = cidrhost(local.private_subnet_cidr, 20) }],
  ) : [{ name = "app1", groups = ["lb", "web", "data"], private_address = cidrhost(local.private_subnet_cidr, 10) }]

  hosts = [for host in local.planned_hosts : merge(host, { server_name = "${var.name}-${host.name}" })]

  groups = ["lb", "web", "data"]
  hosts_by_group = {
    for group in local.groups : group => [for host in local.hosts : host.name if contains(host.groups, group)]
  }

  # --- cloud-init: the admin user with its keys, python3 (Ansible's interpreter), nothing else.
  cloud_config = {
    users = [{
      name                = var.admin_user
      gecos               = "Ansible (channels-stack)"
      groups              = ["sudo"]
      shell               = "/bin/bash"
      sudo                = "ALL=(ALL) NOPASSWD:ALL"
      lock_passwd         = true
      ssh_authorized_keys = var.admin_ssh_public_keys
    }]
    disable_root   = true
    ssh_pwauth     = false
    package_update = true
    packages       = ["python3"]
  }
  user_data = "#cloud-config\n${yamlencode(local.cloud_config)}"

  # --- firewall rules as data. "anywhere" is both address families.
  anywhere         = ["0.0.0.0/0", "::/0"]
  daphne_last_port = var.daphne_tcp_port + var.daphne_instances - 1

  firewall_rules = concat(
    [{
      name         = "ssh"
      description  = "SSH (Ansible) from the admin networks only"
      protocol     = "tcp"
      from_port    = 22
      to_port      = 22
      source_cidrs = var.admin_cidrs
      groups       = local.groups
    }],
    var.load_balancer ? [
      {
        name         = "lb-public"
        description  = "HTTP and HTTPS from anywhere to the cloud load balancer"
        protocol     = "tcp"
        from_port    = 80
        to_port      = 80
        source_cidrs = local.anywhere
        groups       = ["load_balancer"]
      },
      {
        name         = "lb-public-tls"
        description  = "HTTPS from anywhere to the cloud load balancer"
        protocol     = "tcp"
        from_port    = 443
        to_port      = 443
        source_cidrs = local.anywhere
        groups       = ["load_balancer"]
      },
      {
        name         = "nginx-from-lb"
        description  = "Plain HTTP from the cloud load balancer to nginx, private network only"
        protocol     = "tcp"
        from_port    = 80
        to_port      = 80
        source_cidrs = [var.private_network_cidr]
        groups       = ["lb"]
      },
      ] : [
      {
        name         = "http"
        description  = "HTTP from anywhere (redirect to HTTPS, ACME challenges)"
        protocol     = "tcp"
        from_port    = 80
        to_port      = 80
        source_cidrs = local.anywhere
        groups       = ["lb"]
      },
      {
        name         = "https"
        description  = "HTTPS and WebSockets from anywhere"
        protocol     = "tcp"
        from_port    = 443
        to_port      = 443
        source_cidrs = local.anywhere
        groups       = ["lb"]
      },
    ],
    local.cluster ? [
      {
        name         = "daphne"
        description  = "daphne instances, from nginx on the private network only"
        protocol     = "tcp"
        from_port    = var.daphne_tcp_port
        to_port      = local.daphne_last_port
        source_cidrs = [var.private_network_cidr]
        groups       = ["web"]
      },
      {
        name         = "http-server"
        description  = "the HTTP server, from nginx on the private network only"
        protocol     = "tcp"
        from_port    = var.http_tcp_port
        to_port      = var.http_tcp_port
        source_cidrs = [var.private_network_cidr]
        groups       = ["web"]
      },
      {
        name         = "redis"
        description  = "Redis, from the web hosts on the private network only"
        protocol     = "tcp"
        from_port    = 6379
        to_port      = 6379
        source_cidrs = [var.private_network_cidr]
        groups       = ["data"]
      },
      {
        name         = "postgresql"
        description  = "PostgreSQL, from the web hosts on the private network only"
        protocol     = "tcp"
        from_port    = 5432
        to_port      = 5432
        source_cidrs = [var.private_network_cidr]
        groups       = ["data"]
      },
    ] : [],
  )

  firewall_groups = concat(local.groups, var.load_balancer ? ["load_balancer"] : [])
  firewall_rules_by_group = {
    for group in local.firewall_groups : group => [for rule in local.firewall_rules : rule if contains(rule.groups, group)]
  }

  load_balancer_settings = {
    enabled           = var.load_balancer
    idle_timeout      = var.load_balancer_idle_timeout
    health_check_path = var.health_check_path
    target_group      = "lb"
    target_port       = 80
    target_protocol   = "HTTP"
  }

  # --- the Ansible inventory, shaped like ansible/inventories/{single-host,cluster}/hosts.yml.
  missing_addresses = [for host in local.hosts : host.name if !contains(keys(var.public_addresses), host.name)]
  inventory_hosts   = [for host in local.hosts : merge(host, { ansible_host = lookup(var.public_addresses, host.name, "") })]
  ansible_inventory = templatefile("${path.module}/templates/inventory.yml.tftpl", {
    cluster    = local.cluster
    hosts      = local.inventory_hosts
    groups     = local.groups
    admin_user = var.admin_user
  })
}
