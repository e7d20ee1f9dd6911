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

variable "firewall_rules_by_group" {
  description = "Ingress rules per group: module.core's firewall_rules_by_group output. One security group each."
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
  description = "The VPC's CIDR: module.core's private_network_cidr."
  type        = string

  validation {
    condition     = can(cidrhost(var.private_network_cidr, 0))
    error_message = "private_network_cidr must be a CIDR."
  }
}

variable "private_subnet_cidr" {
  description = "The hosts' subnet (the private addresses are in it): module.core's private_subnet_cidr."
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

variable "certificate_arn" {
  description = "ARN of the ACM certificate for the ALB's HTTPS listener (issued for your app_server_names). Required when the load balancer is enabled."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "ami_id" {
  description = "AMI of the hosts. null: the newest official Debian 12 (bookworm) amd64 image."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "instance_types" {
  description = "EC2 instance type per Ansible group (a host with several groups takes the first one's, in the order lb, web, data)."
  type        = map(string)
  default = {
    lb   = "t3.small"
    web  = "t3.medium"
    data = "t3.medium"
  }

  validation {
    condition     = alltrue([for group in ["lb", "web", "data"] : contains(keys(var.instance_types), group)])
    error_message = "instance_types needs an entry for lb, web and data."
  }
}

variable "root_volume_size" {
  description = "Size of each host's encrypted root volume (GiB)."
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 1024
    error_message = "root_volume_size must be between 8 and 1024 GiB."
  }
}

variable "kms_key_id" {
  description = "KMS key ARN for the root volumes. null: the account's default EBS key (aws/ebs)."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
