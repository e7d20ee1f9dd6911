# One Hetzner Cloud server that does everything (the playbook's single-host shape): nginx
# with TLS (Let's Encrypt through the playbook), daphne + the HTTP server, Redis, PostgreSQL.
module "core" {
  source = "../../modules/core"

  name                  = var.name
  topology              = "single"
  admin_ssh_public_keys = var.admin_ssh_public_keys
  admin_cidrs           = var.admin_cidrs
  public_addresses      = module.hcloud.public_addresses
}

module "hcloud" {
  source = "../../modules/hcloud"

  name                    = var.name
  hosts                   = module.core.hosts
  user_data               = module.core.user_data
  admin_ssh_public_keys   = module.core.admin_ssh_public_keys
  firewall_rules_by_group = module.core.firewall_rules_by_group
  private_network_cidr    = module.core.private_network_cidr
  private_subnet_cidr     = module.core.private_subnet_cidr
  load_balancer           = module.core.load_balancer
  location                = var.location
  network_zone            = var.network_zone
  image                   = var.image
  server_types            = { lb = var.server_type, web = var.server_type, data = var.server_type }
  delete_protection       = var.delete_protection
}
