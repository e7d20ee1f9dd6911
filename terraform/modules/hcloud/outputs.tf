output "public_addresses" {
  description = "Public IPv4 address of each host, by inventory name: module.core's public_addresses input."
  value       = { for name, server in hcloud_server.host : name => server.ipv4_address }
}

output "public_ipv6_addresses" {
  description = "Public IPv6 address of each host, by inventory name (for AAAA records)."
  value       = { for name, server in hcloud_server.host : name => server.ipv6_address }
}

output "server_ids" {
  description = "Hetzner server ID of each host, by inventory name."
  value       = { for name, server in hcloud_server.host : name => server.id }
}

output "load_balancer_ipv4" {
  description = "The load balancer's public IPv4 address (A record of your site's names); null without a load balancer."
  value       = var.load_balancer.enabled ? hcloud_load_balancer.this[0].ipv4 : null
}

output "load_balancer_ipv6" {
  description = "The load balancer's public IPv6 address (AAAA record); null without a load balancer."
  value       = var.load_balancer.enabled ? hcloud_load_balancer.this[0].ipv6 : null
}
