output "ansible_inventory" {
  description = "The playbook's inventory: terraform output -raw ansible_inventory > ../../../ansible/inventories/single-vm/hosts.yml"
  value       = module.core.ansible_inventory
}

output "public_ipv4" {
  description = "The server's IPv4 address: the A record of your site's names."
  value       = module.hcloud.public_addresses["app1"]
}

output "public_ipv6" {
  description = "The server's IPv6 address: the AAAA record of your site's names."
  value       = module.hcloud.public_ipv6_addresses["app1"]
}
