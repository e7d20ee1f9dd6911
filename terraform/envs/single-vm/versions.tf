terraform {
  required_version = ">= 1.9"
  required_providers {
    hcloud = {
      source  = "hetznercloud/hcloud"
      version = "~> 1.49"
    }
  }

  # Keep the state out of your laptop once more than one person deploys. An example (any
  # S3-compatible store works, Hetzner's Object Storage included):
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "channels-stack/single-vm.tfstate"
  #   region       = "eu-central-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}

# The API token comes from the environment: export HCLOUD_TOKEN=... (never in a .tf or .tfvars file).
provider "hcloud" {}
