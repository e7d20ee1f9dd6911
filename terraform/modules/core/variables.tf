variable "name" {
  description = "Name of the deployment: the prefix of every cloud resource name (servers, firewalls, networks)."
  type        = string
  default     = "channels-stack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name: 2-32 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "topology" {
  description = "\"single\": one host in every group (lb, web, data), like ansible/inventories/single-host. \"cluster\": lb1, web1..webN, data1 on a private network, like ansible/inventories/cluster."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "cluster"], var.topology)
    error_message = "topology must be \"single\" or \"cluster\"."
  }
}

variable "web_count" {
  description = "Number of web hosts (daphne + the HTTP server) in a cluster. Ignored for a single host."
  type        = number
  default     = 2

  validation {
    condition     = var.web_count >= 1 && var.web_count <= 50 && floor(var.web_count) == var.web_count
    error_message = "web_count must be a whole number from 1 to 50."
  }
}

variable "admin_user" {
  description = "The user cloud-init creates (sudo without password, SSH keys only) and Ansible logs in as (ansible_user)."
  type        = string
  default     = "admin"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,30}$", var.admin_user)) && !contains(["root", "nobody"], var.admin_user)
    error_message = "admin_user must be a valid Linux user name (lower case, up to 31 characters), not root or nobody."
  }
}

variable "admin_ssh_public_keys" {
  description = "SSH public keys (OpenSSH one-line format) allowed to log in as admin_user."
  type        = list(string)

  validation {
    condition     = length(var.admin_ssh_public_keys) > 0
    error_message = "admin_ssh_public_keys: give at least one key, or nobody can log in (passwords are disabled)."
  }
  validation {
    condition = alltrue([
      for key in var.admin_ssh_public_keys :
      can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com) [A-Za-z0-9+/]+=*( [^\\n]*)?$", key))
    ])
    error_message = "admin_ssh_public_keys: every entry must be one OpenSSH public key line (\"ssh-ed25519 AAAA... comment\"), never a private key."
  }
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach SSH (port 22): your office or VPN, where Ansible runs from. Never the whole Internet."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs: give at least one CIDR (\"203.0.113.7/32\"); each must be a valid IPv4 or IPv6 CIDR."
  }
  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : !can(cidrhost(cidr, 0)) || tonumber(split("/", cidr)[1]) > 0])
    error_message = "admin_cidrs: SSH from anywhere (/0) is refused; list the addresses Ansible connects from."
  }
}

variable "private_network_cidr" {
  description = "The private network (VPC / Hetzner network). Redis, PostgreSQL and the web hosts' ports are open only inside it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.private_network_cidr, 0)) && !strcontains(var.private_network_cidr, ":") && tonumber(split("/", var.private_network_cidr)[1]) <= 22
    error_message = "private_network_cidr must be an IPv4 CIDR of /22 or larger (e.g. 10.0.0.0/16)."
  }
}

variable "daphne_instances" {
  description = "daphne instances per web host, on daphne_tcp_port and up. Keep in step with daphne_instances in ansible/inventories/cluster/group_vars/all/main.yml."
  type        = number
  default     = 2

  validation {
    condition     = var.daphne_instances >= 1 && var.daphne_instances <= 64 && floor(var.daphne_instances) == var.daphne_instances
    error_message = "daphne_instances must be a whole number from 1 to 64."
  }
}

variable "daphne_tcp_port" {
  description = "First daphne port on a web host (cluster group_vars: daphne_tcp_port)."
  type        = number
  default     = 8001

  validation {
    condition     = var.daphne_tcp_port >= 1024 && var.daphne_tcp_port <= 65000
    error_message = "daphne_tcp_port must be an unprivileged port (1024-65000)."
  }
}

variable "http_tcp_port" {
  description = "The HTTP server's port on a web host (cluster group_vars: http_tcp_port)."
  type        = number
  default     = 8000

  validation {
    condition     = var.http_tcp_port >= 1024 && var.http_tcp_port <= 65535
    error_message = "http_tcp_port must be an unprivileged port (1024-65535)."
  }
}

variable "load_balancer" {
  description = "true: a cloud load balancer takes 80/443 from the Internet and forwards plain HTTP to nginx on the lb hosts (port 80, private network only). false: the lb hosts take 80/443 themselves."
  type        = bool
  default     = false
}

variable "websocket_ping_interval" {
  description = "daphne's ping interval in seconds (daphne_ping_interval in ops/defaults.yml): an idle WebSocket carries a frame this often."
  type        = number
  default     = 20

  validation {
    condition     = var.websocket_ping_interval >= 1
    error_message = "websocket_ping_interval must be at least 1 second."
  }
}

variable "load_balancer_idle_timeout" {
  description = "The cloud load balancer's idle timeout in seconds. Must exceed websocket_ping_interval, or the load balancer cuts idle WebSockets; the default 60 matches nginx's proxy_read_timeout and stays below nginx's keepalive_timeout (65 s), so the balancer closes idle keep-alive connections first."
  type        = number
  default     = 60

  validation {
    condition     = var.load_balancer_idle_timeout > var.websocket_ping_interval
    error_message = "load_balancer_idle_timeout must be longer than websocket_ping_interval (daphne pings every 20 s by default): a shorter idle timeout closes every idle WebSocket."
  }
  validation {
    condition     = var.load_balancer_idle_timeout <= 4000 && floor(var.load_balancer_idle_timeout) == var.load_balancer_idle_timeout
    error_message = "load_balancer_idle_timeout must be a whole number of seconds, at most 4000 (AWS's maximum)."
  }
}

variable "health_check_path" {
  description = "Path the cloud load balancer's health check requests from nginx (the app's liveness view)."
  type        = string
  default     = "/healthz"

  validation {
    condition     = can(regex("^/[A-Za-z0-9/._-]*$", var.health_check_path))
    error_message = "health_check_path must be an absolute URL path such as /healthz."
  }
}

variable "public_addresses" {
  description = "Public address of each host, by inventory name (the provider module's public_addresses output): the inventory's ansible_host. Empty until the servers exist."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for address in values(var.public_addresses) : can(cidrhost("${address}/32", 0)) || can(cidrhost("${address}/128", 0))])
    error_message = "public_addresses: every value must be an IPv4 or IPv6 address."
  }
}
