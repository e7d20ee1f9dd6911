terraform {
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }

  # Keep the state out of your laptop once more than one person deploys. An example:
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "channels-stack/cluster.tfstate"
  #   region       = "eu-central-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}

# Credentials come from the environment (AWS_PROFILE, or SSO / instance credentials).
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = var.name
      ManagedBy = "terraform (channels-stack terraform/envs/cluster)"
    }
  }
}
