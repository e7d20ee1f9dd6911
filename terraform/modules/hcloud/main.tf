# Resources only: every decision (hosts, addresses, rules, user-data) comes from module.core.
# Hetzner Cloud firewalls filter the public interfaces only; traffic on the private network
# is filtered by each host's own nftables (the common role), which admits the same peers.

locals {
  hosts = { for host in var.hosts : host.name => host }
  # Hetzner's firewall rule: "port" is "22" or "8001-8002".
  firewall_groups = { for group, rules in var.firewall_rules_by_group : group => rules if group != "load_balancer" }
  lb_targets      = var.load_balancer.enabled ? { for host in var.hosts : host.name => host if contains(host.groups, var.load_balancer.target_group) } : {}
}

resource "hcloud_ssh_key" "admin" {
  name       = "${var.name}-admin"
  public_key = var.admin_ssh_public_keys[0]
  labels     = var.labels
}

resource "hcloud_network" "this" {
  name     = var.name
  ip_range = var.private_network_cidr
  labels   = var.labels
}

resource "hcloud_network_subnet" "hosts" {
  network_id   = hcloud_network.this.id
  type         = "cloud"
  network_zone = var.network_zone
  ip_range     = var.private_subnet_cidr
}

resource "hcloud_firewall" "group" {
  for_each = local.firewall_groups
  name     = "${var.name}-${each.key}"
  labels   = var.labels

  dynamic "rule" {
    for_each = each.value
    content {
      description = rule.value.description
      direction   = "in"
      protocol    = rule.value.protocol
      port        = rule.value.from_port == rule.value.to_port ? tostring(rule.value.from_port) : "${rule.value.from_port}-${rule.value.to_port}"
      source_ips  = rule.value.source_cidrs
    }
  }
}

resource "hcloud_server" "host" {
  for_each           = local.hosts
  name               = each.value.server_name
  image              = var.image
  server_type        = var.server_types[each.value.groups[0]]
  location           = var.location
  user_data          = var.user_data
  ssh_keys           = [hcloud_ssh_key.admin.id]
  firewall_ids       = [for group in each.value.groups : hcloud_firewall.group[group].id]
  delete_protection  = var.delete_protection
  rebuild_protection = var.delete_protection
  labels             = merge(var.labels, { ansible_groups = join(".", each.value.groups) })

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  network {
    network_id = hcloud_network.this.id
    ip         = each.value.private_address
  }

  lifecycle {
    # cloud-init runs once; new user-data must not rebuild a running host (the playbook
    # manages it from then on). Image updates come from apt, not from a rebuild.
    ignore_changes = [user_data, image, ssh_keys]
  }

  depends_on = [hcloud_network_subnet.hosts]
}

# --- the optional load balancer: TLS with a managed certificate, plain HTTP to nginx on the
# lb hosts' private addresses, health check with the site's Host header.
resource "hcloud_managed_certificate" "site" {
  count        = var.load_balancer.enabled ? 1 : 0
  name         = var.name
  domain_names = var.domain_names
  labels       = var.labels

  lifecycle {
    precondition {
      condition     = length(var.domain_names) > 0
      error_message = "domain_names is required with a load balancer (its certificate and health check)."
    }
  }
}

resource "hcloud_load_balancer" "this" {
  count              = var.load_balancer.enabled ? 1 : 0
  name               = var.name
  load_balancer_type = var.load_balancer_type
  location           = var.location
  delete_protection  = var.delete_protection
  labels             = var.labels
}

resource "hcloud_load_balancer_network" "this" {
  count            = var.load_balancer.enabled ? 1 : 0
  load_balancer_id = hcloud_load_balancer.this[0].id
  subnet_id        = hcloud_network_subnet.hosts.id
}

resource "hcloud_load_balancer_target" "nginx" {
  for_each         = local.lb_targets
  type             = "server"
  load_balancer_id = hcloud_load_balancer.this[0].id
  server_id        = hcloud_server.host[each.key].id
  use_private_ip   = true
  depends_on       = [hcloud_load_balancer_network.this]
}

resource "hcloud_load_balancer_service" "https" {
  count            = var.load_balancer.enabled ? 1 : 0
  load_balancer_id = hcloud_load_balancer.this[0].id
  protocol         = "https"
  listen_port      = 443
  destination_port = var.load_balancer.target_port

  http {
    certificates  = [hcloud_managed_certificate.site[0].id]
    redirect_http = true
  }

  health_check {
    protocol = "http"
    port     = var.load_balancer.target_port
    interval = 15
    timeout  = 10
    retries  = 3
    http {
      domain       = length(var.domain_names) > 0 ? var.domain_names[0] : null
      path         = var.load_balancer.health_check_path
      status_codes = ["200"]
    }
  }
}
