# The core module for one "fresh VM" (tests/terraform/test_cloud_init_boot.py): the single-host
# topology with the test's own SSH key, its user-data seeded into a systemd container and its
# inventory pointed at that container's address, as terraform/envs/single-vm wires a server.
terraform {
  required_version = ">= 1.9"
}

variable "admin_ssh_public_key" {
  description = "The test's freshly generated public key (ssh-keygen -t ed25519)."
  type        = string
}

variable "address" {
  description = "The container's address on podman's network (a placeholder before it boots)."
  type        = string
  default     = "192.0.2.10"
}

module "core" {
  source = "../../../terraform/modules/core"

  topology              = "single"
  admin_ssh_public_keys = [var.admin_ssh_public_key]
  admin_cidrs           = ["10.88.0.0/16"]
  public_addresses      = { app1 = var.address }
}

output "user_data" {
  description = "The cloud-init user-data of the host."
  value       = module.core.user_data
}

output "inventory" {
  description = "The single-host inventory, ansible_host = var.address."
  value       = module.core.ansible_inventory
}

output "hosts" {
  description = "The planned hosts (server_name is the seed's local-hostname)."
  value       = module.core.hosts
}
