output "public_addresses" {
  description = "Public IPv4 address of each host, by inventory name: module.core's public_addresses input."
  value       = { for name, instance in aws_instance.host : name => instance.public_ip }
}

output "instance_ids" {
  description = "EC2 instance ID of each host, by inventory name."
  value       = { for name, instance in aws_instance.host : name => instance.id }
}

output "load_balancer_dns_name" {
  description = "The ALB's DNS name (point your site's names at it with a CNAME or an alias record); null without a load balancer."
  value       = var.load_balancer.enabled ? aws_lb.this[0].dns_name : null
}

output "load_balancer_zone_id" {
  description = "The ALB's Route 53 zone ID, for an alias record; null without a load balancer."
  value       = var.load_balancer.enabled ? aws_lb.this[0].zone_id : null
}

output "vpc_id" {
  description = "The VPC's ID."
  value       = aws_vpc.this.id
}
