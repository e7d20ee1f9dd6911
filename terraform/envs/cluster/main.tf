# lb1 (nginx), web1..webN (daphne + the HTTP server), data1 (Redis, PostgreSQL) on AWS, with
# an ALB in front: HTTPS with an ACM certificate, plain HTTP to nginx inside the VPC.
module "core" {
  source = "../../modules/core"

  name                       = var.name
  topology                   = "cluster"
  web_count                  = var.web_count
  admin_ssh_public_keys      = var.admin_ssh_public_keys
  admin_cidrs                = var.admin_cidrs
  load_balancer              = true
  load_balancer_idle_timeout = var.load_balancer_idle_timeout
  public_addresses           = module.aws.public_addresses
}

module "aws" {
  source = "../../modules/aws"

  name                    = var.name
  hosts                   = module.core.hosts
  user_data               = module.core.user_data
  firewall_rules_by_group = module.core.firewall_rules_by_group
  private_network_cidr    = module.core.private_network_cidr
  private_subnet_cidr     = module.core.private_subnet_cidr
  load_balancer           = module.core.load_balancer
  certificate_arn         = var.certificate_arn
  instance_types          = var.instance_types
  ami_id                  = var.ami_id
  deletion_protection     = var.deletion_protection
}
