output "hosts" {
  description = "The planned hosts: inventory name, server_name (the cloud resource's name), Ansible groups and private address. Provider modules create one server per entry."
  value       = local.hosts
}

output "hosts_by_group" {
  description = "Inventory host names of each Ansible group (lb, web, data)."
  value       = local.hosts_by_group
}

output "private_network_cidr" {
  description = "The private network (VPC / Hetzner network)."
  value       = var.private_network_cidr
}

output "private_subnet_cidr" {
  description = "The subnet of the private network the hosts' private addresses are in."
  value       = local.private_subnet_cidr
}

output "user_data" {
  description = "cloud-init user-data (#cloud-config) for every host: the admin user with its SSH keys, python3, nothing else."
  value       = local.user_data
}

output "firewall_rules" {
  description = "Ingress rules as data: name, description, protocol, from_port, to_port, source_cidrs and the groups (lb, web, data, load_balancer) they apply to. Everything else is closed."
  value       = local.firewall_rules
}

output "firewall_rules_by_group" {
  description = "The same rules per group (lb, web, data, and load_balancer when there is one): one security group / firewall each."
  value       = local.firewall_rules_by_group
}

output "load_balancer" {
  description = "Settings of the optional cloud load balancer: enabled, idle_timeout (s, longer than daphne's ping interval), health_check_path, and its targets (the lb group's nginx, plain HTTP on port 80)."
  value       = local.load_balancer_settings
}

output "app_ports" {
  description = "The web hosts' ports the rules open (keep in step with ansible/inventories/cluster/group_vars/all/main.yml) and daphne's ping interval the idle timeout is checked against."
  value = {
    daphne_instances        = var.daphne_instances
    daphne_tcp_port         = var.daphne_tcp_port
    http_tcp_port           = var.http_tcp_port
    websocket_ping_interval = var.websocket_ping_interval
  }
}

output "ansible_inventory" {
  description = "The Ansible inventory (YAML) for ansible/site.yml: terraform output -raw ansible_inventory > ansible/inventories/<name>/hosts.yml"
  value       = local.ansible_inventory

  precondition {
    condition     = length(local.missing_addresses) == 0
    error_message = "public_addresses has no address for: ${join(", ", local.missing_addresses)}."
  }
}

output "admin_ssh_public_keys" {
  description = "The admin's SSH public keys (for a provider that also wants one registered, e.g. Hetzner's root key)."
  value       = var.admin_ssh_public_keys
}
