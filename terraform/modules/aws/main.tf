# Resources only: every decision (hosts, addresses, rules, user-data, timeouts) comes from
# module.core. Debian 12 on EC2, one VPC, the hosts in one subnet with public addresses (SSH
# from admin_cidrs only), an optional ALB in front of the lb group's nginx.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:only the first two zone names (sorted) are used, once: aws_subnet's availability_zone is fixed at creation, a new zone moves nothing
  state = "available"
}

data "aws_ami" "debian" {
  count       = var.ami_id == null ? 1 : 0
  most_recent = true
  owners      = ["136693071363"] # Debian's official AWS account

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }
  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

locals {
  ami_id       = var.ami_id != null ? var.ami_id : data.aws_ami.debian[0].id
  hosts        = { for host in var.hosts : host.name => host }
  azs          = slice(data.aws_availability_zones.available.names, 0, 2)
  alb_subnet_b = cidrsubnet(var.private_network_cidr, 24 - tonumber(split("/", var.private_network_cidr)[1]), 2)
  # One ingress rule per (rule, CIDR): AWS keeps IPv4 and IPv6 sources apart.
  ingress = {
    for group, rules in var.firewall_rules_by_group : group => flatten([
      for rule in rules : [
        for cidr in rule.source_cidrs : {
          description = rule.description
          protocol    = rule.protocol
          from_port   = rule.from_port
          to_port     = rule.to_port
          ipv4        = strcontains(cidr, ":") ? null : cidr
          ipv6        = strcontains(cidr, ":") ? cidr : null
        }
      ]
    ])
  }
  lb_targets = var.load_balancer.enabled ? { for host in var.hosts : host.name => host if contains(host.groups, var.load_balancer.target_group) } : {}
}

resource "aws_vpc" "this" {
  cidr_block           = var.private_network_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

# No rule at all in the VPC's default security group (nothing uses it).
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-closed" })
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "REJECT"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow.arn
  iam_role_arn         = aws_iam_role.flow.arn
  tags                 = var.tags
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/${var.name}/vpc-flow-rejects"
  retention_in_days = 365
  #checkov:skip=CKV_AWS_158:the rejected-connection log holds addresses and ports only; the account's default encryption applies, a customer KMS key is the user's choice
  tags = var.tags
}

data "aws_iam_policy_document" "flow_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow_write" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow.arn}:*"]
  }
}

resource "aws_iam_role" "flow" {
  name               = "${var.name}-vpc-flow-log"
  assume_role_policy = data.aws_iam_policy_document.flow_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "flow" {
  name   = "write-flow-log"
  role   = aws_iam_role.flow.id
  policy = data.aws_iam_policy_document.flow_write.json
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "hosts" {
  vpc_id            = aws_vpc.this.id
  cidr_block        = var.private_subnet_cidr
  availability_zone = local.azs[0]
  tags              = merge(var.tags, { Name = "${var.name}-hosts" })
}

# An ALB needs subnets in two availability zones; no host lives in this one.
resource "aws_subnet" "alb_b" {
  count             = var.load_balancer.enabled ? 1 : 0
  vpc_id            = aws_vpc.this.id
  cidr_block        = local.alb_subnet_b
  availability_zone = local.azs[1]
  tags              = merge(var.tags, { Name = "${var.name}-alb-b" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route_table_association" "hosts" {
  subnet_id      = aws_subnet.hosts.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table_association" "alb_b" {
  count          = var.load_balancer.enabled ? 1 : 0
  subnet_id      = aws_subnet.alb_b[0].id
  route_table_id = aws_route_table.public.id
}

# One security group per group of module.core's rules (lb, web, data, load_balancer).
resource "aws_security_group" "group" {
  for_each    = var.firewall_rules_by_group
  name        = "${var.name}-${each.key}"
  description = "${var.name}: ${each.key} (rules from terraform/modules/core)"
  vpc_id      = aws_vpc.this.id

  dynamic "ingress" {
    for_each = local.ingress[each.key]
    content {
      description      = ingress.value.description
      protocol         = ingress.value.protocol
      from_port        = ingress.value.from_port
      to_port          = ingress.value.to_port
      cidr_blocks      = ingress.value.ipv4 == null ? null : [ingress.value.ipv4]
      ipv6_cidr_blocks = ingress.value.ipv6 == null ? null : [ingress.value.ipv6]
    }
  }

  # Out: web and TLS anywhere (Debian's mirrors, PyPI for the release venvs, certbot), NTP,
  # and anything inside the VPC (the ALB to nginx, nginx to the web hosts, the web hosts to
  # Redis / PostgreSQL, the VPC's DNS resolver).
  egress {
    description      = "HTTP and HTTPS out: package mirrors, PyPI, ACME"
    protocol         = "tcp"
    from_port        = 80
    to_port          = 80
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }
  egress {
    description      = "HTTPS out: package mirrors, PyPI, ACME"
    protocol         = "tcp"
    from_port        = 443
    to_port          = 443
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }
  egress {
    description = "NTP out"
    protocol    = "udp"
    from_port   = 123
    to_port     = 123
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    description = "Inside the VPC: upstreams, Redis, PostgreSQL, DNS"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = [var.private_network_cidr]
  }

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

resource "aws_instance" "host" {
  for_each = local.hosts
  #checkov:skip=CKV2_AWS_41:the hosts call no AWS API; an instance profile would only add credentials an intruder could use
  #checkov:skip=CKV_AWS_88:Ansible reaches every host over SSH, allowed from admin_cidrs only by the security group; no bastion in this template

  ami                         = local.ami_id
  instance_type               = var.instance_types[each.value.groups[0]]
  subnet_id                   = aws_subnet.hosts.id
  private_ip                  = each.value.private_address
  associate_public_ip_address = true
  vpc_security_group_ids      = [for group in each.value.groups : aws_security_group.group[group].id]
  user_data                   = var.user_data
  user_data_replace_on_change = false
  monitoring                  = true
  ebs_optimized               = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted             = true
    kms_key_id            = var.kms_key_id
    volume_type           = "gp3"
    volume_size           = var.root_volume_size
    delete_on_termination = true
  }

  lifecycle {
    # A newer Debian image must not replace running hosts: upgrade them with apt (the
    # common role), or taint a host on purpose.
    ignore_changes = [ami]
  }

  tags = merge(var.tags, { Name = each.value.server_name, AnsibleGroups = join(",", each.value.groups) })
}

# --- the optional ALB: HTTPS (ACM) from the Internet, plain HTTP to nginx on the lb hosts.
resource "aws_lb" "this" {
  count = var.load_balancer.enabled ? 1 : 0
  #checkov:skip=CKV_AWS_91:access logs need an S3 bucket with a bucket policy for the ELB account of the region; add one with access_logs {} when you want them
  #checkov:skip=CKV2_AWS_28:a WAF (aws_wafv2_web_acl) is a product decision with its own cost; nginx rate-limits logins and WebSocket handshakes
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.group["load_balancer"].id]
  subnets                    = [aws_subnet.hosts.id, aws_subnet.alb_b[0].id]
  idle_timeout               = var.load_balancer.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  tags                       = var.tags

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null
      error_message = "certificate_arn is required when the load balancer is enabled (an ACM certificate for your site's names)."
    }
  }
}

resource "aws_lb_target_group" "nginx" {
  count = var.load_balancer.enabled ? 1 : 0
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; nginx behind it listens on plain HTTP inside the VPC only (security group: the private network)
  name     = "${var.name}-nginx"
  port     = var.load_balancer.target_port
  protocol = var.load_balancer.target_protocol
  vpc_id   = aws_vpc.this.id

  health_check {
    path                = var.load_balancer.health_check_path
    protocol            = var.load_balancer.target_protocol
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  # WebSockets last for hours: let a deregistered nginx drain them for a while.
  deregistration_delay = 60
  tags                 = var.tags
}

resource "aws_lb_target_group_attachment" "nginx" {
  for_each         = local.lb_targets
  target_group_arn = aws_lb_target_group.nginx[0].arn
  target_id        = aws_instance.host[each.key].id
  port             = var.load_balancer.target_port
}

resource "aws_lb_listener" "https" {
  count             = var.load_balancer.enabled ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.nginx[0].arn
  }
}

resource "aws_lb_listener" "http" {
  count             = var.load_balancer.enabled ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
