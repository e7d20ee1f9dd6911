terraform {
  # Cross-variable validations (load_balancer_idle_timeout vs websocket_ping_interval) need 1.9.
  required_version = ">= 1.9"
  # No provider: everything here is built-in functions, so `terraform test` runs offline.
}
