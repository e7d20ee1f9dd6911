variable "name" {
  description = "Name of the deployment: prefix of the server's and firewall's names."
  type        = string
  default     = "channels-stack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name: 2-32 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "admin_ssh_public_keys" {
  description = "SSH public keys (OpenSSH one-line format) of the people who run Ansible; they log in as admin."
  type        = list(string)

  validation {
    condition     = length(var.admin_ssh_public_keys) > 0
    error_message = "Give at least one SSH public key."
  }
}

variable "admin_cidrs" {
  description = "Where Ansible runs from (your address /32, your VPN): the only sources allowed on SSH."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0
    error_message = "Give at least one CIDR."
  }
}

variable "location" {
  description = "Hetzner location (nbg1, fsn1, hel1, ash, hil, sin)."
  type        = string
  default     = "nbg1"

  validation {
    condition     = contains(["nbg1", "fsn1", "hel1", "ash", "hil", "sin"], var.location)
    error_message = "location must be one of nbg1, fsn1, hel1, ash, hil, sin."
  }
}

variable "network_zone" {
  description = "Network zone containing location (eu-central for nbg1/fsn1/hel1, us-east for ash, us-west for hil, ap-southeast for sin)."
  type        = string
  default     = "eu-central"

  validation {
    condition     = contains(["eu-central", "us-east", "us-west", "ap-southeast"], var.network_zone)
    error_message = "network_zone must be eu-central, us-east, us-west or ap-southeast."
  }
}

variable "server_type" {
  description = "Hetzner server type of the one server (2+ vCPUs: daphne runs one instance per core)."
  type        = string
  default     = "cx32"

  validation {
    condition     = can(regex("^[a-z]+[0-9]+$", var.server_type))
    error_message = "server_type must be a Hetzner server type such as cx22, cx32, cpx31."
  }
}

variable "image" {
  description = "debian-12 or ubuntu-24.04."
  type        = string
  default     = "debian-12"

  validation {
    condition     = contains(["debian-12", "ubuntu-24.04"], var.image)
    error_message = "image must be debian-12 or ubuntu-24.04."
  }
}

variable "delete_protection" {
  description = "Hetzner delete protection on the server (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}
