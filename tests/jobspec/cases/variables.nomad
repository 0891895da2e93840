variable "datacenters" {
  type        = list(string)
  description = "Where to run"
  default     = ["dc1"]
}

variable "image" {
  type = string
}

variable "replicas" {
  type    = number
  default = 1
}

variable "debug" {
  type    = bool
  default = false
}

variable "labels" {
  type    = map(string)
  default = { team = "core" }
}

locals {
  app      = "billing"
  fullname = "${local.app}-${var.replicas > 1 ? "ha" : "single"}"
  env = merge(var.labels, {
    APP   = upper(local.app)
    DEBUG = var.debug ? "1" : "0"
  })
}

job "billing" {
  datacenters = var.datacenters
  meta        = var.labels

  group "api" {
    count = var.replicas

    task "api" {
      driver = "docker"

      config {
        image = var.image
        args  = ["--name", local.fullname]
      }

      env = local.env
    }
  }
}
