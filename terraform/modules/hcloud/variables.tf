variable "name" {
  description = "Prefix of every resource name (module.core's name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name: 2-32 characters, lower-case letters, digits and '-'."
  }
}

variable "hosts" {
  description = "The hosts to create: module.core's hosts output (name, server_name, groups, private_address)."
  type = list(object({
    name            = string
    server_name     = string
    groups          = list(string)
    private_address = string
  }))

  validation {
    condition     = length(var.hosts) > 0
    error_message = "hosts must not be empty."
  }
}

variable "user_data" {
  description = "cloud-init user-data for every host: module.core's user_data output."
  type        = string

  validation {
    condition     = startswith(var.user_data, "#cloud-config")
    error_message = "user_data must be a #cloud-config document (module.core's user_data)."
  }
}

variable "admin_ssh_public_keys" {
  description = "module.core's admin_ssh_public_keys: the first is registered with Hetzner too, so no root password is mailed (cloud-init then disables root login)."
  type        = list(string)

  validation {
    condition     = length(var.admin_ssh_public_keys) > 0
    error_message = "admin_ssh_public_keys must not be empty."
  }
}

variable "firewall_rules_by_group" {
  description = "Ingress rules per group: module.core's firewall_rules_by_group output. One Hetzner firewall per host group (the load_balancer group has none: Hetzner load balancers take no firewall)."
  type = map(list(object({
    name         = string
    description  = string
    protocol     = string
    from_port    = number
    to_port      = number
    source_cidrs = list(string)
    groups       = list(string)
  })))
}

variable "private_network_cidr" {
  description = "The Hetzner network's range: module.core's private_network_cidr."
  type        = string

  validation {
    condition     = can(cidrhost(var.private_network_cidr, 0))
    error_message = "private_network_cidr must be a CIDR."
  }
}

variable "private_subnet_cidr" {
  description = "The hosts' subnet: module.core's private_subnet_cidr."
  type        = string

  validation {
    condition     = can(cidrhost(var.private_subnet_cidr, 0))
    error_message = "private_subnet_cidr must be a CIDR."
  }
}

variable "load_balancer" {
  description = "module.core's load_balancer output: enabled, idle_timeout, health_check_path, target_port."
  type = object({
    enabled           = bool
    idle_timeout      = number
    health_check_path = string
    target_group      = string
    target_port       = number
    target_protocol   = string
  })
}

variable "domain_names" {
  description = "The site's names (app_server_names): the load balancer's managed Let's Encrypt certificate and its health check's Host header. Required with a load balancer."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for name in var.domain_names : can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", name))])
    error_message = "domain_names: fully qualified lower-case DNS names such as chat.example.org."
  }
}

variable "location" {
  description = "Hetzner location of the servers and the load balancer (nbg1, fsn1, hel1, ash, hil, sin)."
  type        = string
  default     = "nbg1"

  validation {
    condition     = contains(["nbg1", "fsn1", "hel1", "ash", "hil", "sin"], var.location)
    error_message = "location must be one of nbg1, fsn1, hel1, ash, hil, sin."
  }
}

variable "network_zone" {
  description = "Network zone of the private subnet; must contain location (eu-central for nbg1/fsn1/hel1, us-east for ash, us-west for hil, ap-southeast for sin)."
  type        = string
  default     = "eu-central"

  validation {
    condition     = contains(["eu-central", "us-east", "us-west", "ap-southeast"], var.network_zone)
    error_message = "network_zone must be eu-central, us-east, us-west or ap-southeast."
  }
}

variable "image" {
  description = "Server image: debian-12 or ubuntu-24.04 (what the playbook supports)."
  type        = string
  default     = "debian-12"

  validation {
    condition     = contains(["debian-12", "ubuntu-24.04"], var.image)
    error_message = "image must be debian-12 or ubuntu-24.04."
  }
}

variable "server_types" {
  description = "Hetzner server type per Ansible group (a host with several groups takes the first one's, in the order lb, web, data)."
  type        = map(string)
  default = {
    lb   = "cx22"
    web  = "cx32"
    data = "cx32"
  }

  validation {
    condition     = alltrue([for group in ["lb", "web", "data"] : contains(keys(var.server_types), group)])
    error_message = "server_types needs an entry for lb, web and data."
  }
}

variable "load_balancer_type" {
  description = "Hetzner load balancer type (lb11, lb21, lb31)."
  type        = string
  default     = "lb11"

  validation {
    condition     = contains(["lb11", "lb21", "lb31"], var.load_balancer_type)
    error_message = "load_balancer_type must be lb11, lb21 or lb31."
  }
}

variable "delete_protection" {
  description = "Hetzner delete (and rebuild) protection on the servers and the load balancer (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to every resource."
  type        = map(string)
  default     = {}
}
