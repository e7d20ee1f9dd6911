output "ansible_inventory" {
  description = "The playbook's inventory: terraform output -raw ansible_inventory > ../../../ansible/inventories/cluster/hosts.yml"
  value       = module.core.ansible_inventory
}

output "load_balancer_dns_name" {
  description = "The ALB's DNS name: point your site's names at it (CNAME, or a Route 53 alias with load_balancer_zone_id)."
  value       = module.aws.load_balancer_dns_name
}

output "load_balancer_zone_id" {
  description = "The ALB's Route 53 hosted zone ID, for alias records."
  value       = module.aws.load_balancer_zone_id
}

output "private_network_cidr" {
  description = "The VPC's CIDR: nginx_trusted_proxies in the inventory's group_vars/lb (the ALB's addresses are in it)."
  value       = module.core.private_network_cidr
}
