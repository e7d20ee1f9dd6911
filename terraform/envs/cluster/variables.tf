variable "name" {
  description = "Name of the deployment: prefix of every resource's name."
  type        = string
  default     = "channels-stack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name: 2-32 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "region" {
  description = "AWS region (the ACM certificate must be in the same region)."
  type        = string
  default     = "eu-central-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-central-1."
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

variable "web_count" {
  description = "Number of web hosts (daphne + the HTTP server)."
  type        = number
  default     = 2

  validation {
    condition     = var.web_count >= 1 && var.web_count <= 50
    error_message = "web_count must be from 1 to 50."
  }
}

variable "certificate_arn" {
  description = "ARN of an issued ACM certificate for your site's names, in var.region: the ALB's HTTPS listener."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "load_balancer_idle_timeout" {
  description = "The ALB's idle timeout (s). Must exceed daphne's ping interval (20 s); 60 matches nginx's proxy_read_timeout and stays below its keepalive_timeout (65 s)."
  type        = number
  default     = 60

  validation {
    condition     = var.load_balancer_idle_timeout > 20 && var.load_balancer_idle_timeout <= 4000
    error_message = "load_balancer_idle_timeout must be longer than daphne's 20 s ping interval (and at most 4000)."
  }
}

variable "instance_types" {
  description = "EC2 instance type per group."
  type        = map(string)
  default = {
    lb   = "t3.small"
    web  = "t3.medium"
    data = "t3.medium"
  }

  validation {
    condition     = alltrue([for group in ["lb", "web", "data"] : contains(keys(var.instance_types), group)])
    error_message = "instance_types needs lb, web and data."
  }
}

variable "ami_id" {
  description = "AMI of the hosts; null: the newest official Debian 12 image."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}
