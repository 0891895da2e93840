"""Blocks decoded to the API structs of Nomad's `api` package, table-driven in the spirit
of jobspec2's parse_test.go: each case is a job file fragment and the API JSON Nomad's
`nomad job run -output` gives for it (field names, types, durations in nanoseconds).

The shapes were checked against the real Nomad binary where it has the block (connect,
scaling, multiregion, csi_plugin in 1.1.2) and against the api package source for the
newer ones (identity, action, disconnect, schedule, secret, weights, ui)."""

from __future__ import annotations

from typing import Any

import pytest

from yurt.jobspec import parse_job

SECOND = 1_000_000_000


def _job(group_body: str = "", task_body: str = "", job_body: str = "") -> dict[str, Any]:
    text = (
        'job "j" {\n'
        f"{job_body}\n"
        '  group "g" {\n'
        f"{group_body}\n"
        '    task "t" {\n'
        '      driver = "exec"\n'
        f"{task_body}\n"
        "    }\n"
        "  }\n"
        "}\n"
    )
    return parse_job(text, "j.nomad")


def _group(job: dict[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = job["TaskGroups"][0]
    return group


def _task(job: dict[str, Any]) -> dict[str, Any]:
    task: dict[str, Any] = job["TaskGroups"][0]["Tasks"][0]
    return task


CONNECT_SIDECAR = """
    service {
      name = "api"
      port = "9001"
      connect {
        sidecar_service {
          tags = ["mesh"]
          port = 9002
          proxy {
            local_service_address = "127.0.0.1"
            local_service_port    = 9001
            upstreams {
              destination_name      = "count-api"
              destination_namespace = "ns"
              local_bind_port       = 8080
              local_bind_address    = "127.0.0.2"
              datacenter            = "dc2"
              mesh_gateway {
                mode = "local"
              }
              config {
                connect_timeout_ms = 500
              }
            }
            expose {
              path {
                path            = "/health"
                protocol        = "http"
                local_path_port = 9001
                listener_port   = "expose"
              }
            }
            config {
              bind_port = 9999
            }
          }
        }
        sidecar_task {
          name         = "proxy"
          driver       = "docker"
          kill_timeout = "3s"
          config {
            image = "envoy"
          }
          resources {
            cpu = 200
          }
        }
      }
    }
"""

CONNECT_GATEWAYS = """
    service {
      name = "ingress"
      connect {
        gateway {
          proxy {
            connect_timeout = "500ms"
            envoy_gateway_bind_addresses "web" {
              address = "0.0.0.0"
              port    = 8080
            }
            config {
              x = "y"
            }
          }
          ingress {
            tls {
              enabled         = true
              tls_min_version = "TLSv1_2"
            }
            listener {
              port     = 8080
              protocol = "http"
              service {
                name  = "web"
                hosts = ["example.com"]
              }
            }
          }
        }
      }
    }
    service {
      name = "term"
      connect {
        gateway {
          terminating {
            service {
              name    = "db"
              ca_file = "/ca.pem"
              sni     = "db.local"
            }
          }
        }
      }
    }
    service {
      name = "mesh"
      connect {
        gateway {
          mesh {}
        }
      }
    }
    service {
      name = "native"
      connect {
        native = true
      }
    }
"""

CASES: list[tuple[str, dict[str, str], Any, Any]] = [
    (
        "connect sidecar service and task",
        {"group_body": CONNECT_SIDECAR},
        lambda j: _group(j)["Services"][0]["Connect"],
        {
            "Native": False,
            "Gateway": None,
            "SidecarService": {
                "Tags": ["mesh"],
                "Port": "9002",
                "Proxy": {
                    "LocalServiceAddress": "127.0.0.1",
                    "LocalServicePort": 9001,
                    "Expose": {
                        "Paths": [
                            {
                                "Path": "/health",
                                "Protocol": "http",
                                "LocalPathPort": 9001,
                                "ListenerPort": "expose",
                            }
                        ],
                        "Path": None,
                    },
                    "ExposeConfig": None,
                    "Upstreams": [
                        {
                            "DestinationName": "count-api",
                            "DestinationNamespace": "ns",
                            "LocalBindPort": 8080,
                            "Datacenter": "dc2",
                            "LocalBindAddress": "127.0.0.2",
                            "MeshGateway": {"Mode": "local"},
                            "Config": {"connect_timeout_ms": 500},
                        }
                    ],
                    "Config": {"bind_port": 9999},
                },
                "DisableDefaultTCPCheck": False,
                "Meta": None,
            },
            "SidecarTask": {
                "Name": "proxy",
                "Driver": "docker",
                "User": "",
                "Config": {"image": "envoy"},
                "Env": None,
                "Resources": {
                    "CPU": 200,
                    "Cores": None,
                    "MemoryMB": None,
                    "MemoryMaxMB": None,
                    "DiskMB": None,
                    "Networks": None,
                    "Devices": None,
                    "NUMA": None,
                    "IOPS": None,
                },
                "Meta": None,
                "KillTimeout": 3 * SECOND,
                "LogConfig": None,
                "ShutdownDelay": None,
                "KillSignal": "",
            },
        },
    ),
    (
        "connect ingress gateway",
        {"group_body": CONNECT_GATEWAYS},
        lambda j: _group(j)["Services"][0]["Connect"]["Gateway"],
        {
            "Proxy": {
                "ConnectTimeout": 500_000_000,
                "EnvoyGatewayBindTaggedAddresses": False,
                "EnvoyGatewayBindAddresses": {
                    "web": {"Name": "web", "Address": "0.0.0.0", "Port": 8080}
                },
                "EnvoyGatewayNoDefaultBind": False,
                "EnvoyDNSDiscoveryType": "",
                "Config": {"x": "y"},
            },
            "Ingress": {
                "TLS": {
                    "Enabled": True,
                    "TLSMinVersion": "TLSv1_2",
                    "TLSMaxVersion": "",
                    "CipherSuites": None,
                },
                "Listeners": [
                    {
                        "Port": 8080,
                        "Protocol": "http",
                        "Services": [{"Name": "web", "Hosts": ["example.com"]}],
                    }
                ],
            },
            "Terminating": None,
            "Mesh": None,
        },
    ),
    (
        "connect terminating gateway",
        {"group_body": CONNECT_GATEWAYS},
        lambda j: _group(j)["Services"][1]["Connect"]["Gateway"]["Terminating"],
        {
            "Services": [
                {
                    "Name": "db",
                    "CAFile": "/ca.pem",
                    "CertFile": "",
                    "KeyFile": "",
                    "SNI": "db.local",
                }
            ]
        },
    ),
    (
        "connect mesh gateway and native",
        {"group_body": CONNECT_GATEWAYS},
        lambda j: (
            _group(j)["Services"][2]["Connect"]["Gateway"]["Mesh"],
            _group(j)["Services"][3]["Connect"]["Native"],
        ),
        ({}, True),
    ),
    (
        "group scaling",
        {
            "group_body": """
    scaling {
      enabled = false
      min     = 1
      max     = 10
      policy {
        cooldown = "1m"
        check "cpu" {
          source = "prometheus"
        }
      }
    }"""
        },
        lambda j: _group(j)["Scaling"],
        {
            "Min": 1,
            "Max": 10,
            "Policy": {"cooldown": "1m", "check": [{"cpu": [{"source": "prometheus"}]}]},
            "Enabled": False,
            "Type": "horizontal",
            "ID": "",
            "Namespace": "",
            "Target": None,
            "CreateIndex": 0,
            "ModifyIndex": 0,
        },
    ),
    (
        "task scaling cpu and mem",
        {
            "task_body": """
      scaling "cpu" {
        enabled = true
        max     = 500
        policy {
          strategy "app-sizing-percentile" {
            percentile = "95"
          }
        }
      }
      scaling "mem" {
        max = 1024
      }"""
        },
        lambda j: [
            (p["Type"], p["Max"], p["Enabled"], p["Policy"]) for p in _task(j)["ScalingPolicies"]
        ],
        [
            (
                "vertical_cpu",
                500,
                True,
                {"strategy": [{"app-sizing-percentile": [{"percentile": "95"}]}]},
            ),
            ("vertical_mem", 1024, None, None),
        ],
    ),
    (
        "multiregion",
        {
            "job_body": """
  multiregion {
    strategy {
      max_parallel = 1
      on_failure   = "fail_all"
    }
    region "west" {
      count       = 2
      datacenters = ["west-1"]
      node_pool   = "big"
      meta {
        my-key = "west"
      }
    }
    region "east" {}
  }"""
        },
        lambda j: j["Multiregion"],
        {
            "Strategy": {"MaxParallel": 1, "OnFailure": "fail_all"},
            "Regions": [
                {
                    "Name": "west",
                    "Count": 2,
                    "Datacenters": ["west-1"],
                    "NodePool": "big",
                    "Meta": {"my-key": "west"},
                },
                {"Name": "east", "Count": None, "Datacenters": None, "NodePool": "", "Meta": None},
            ],
        },
    ),
    (
        "csi_plugin",
        {
            "task_body": """
      csi_plugin {
        id                     = "csi-hostpath"
        type                   = "monolith"
        mount_dir              = "/csi"
        stage_publish_base_dir = "/local/csi"
        health_timeout         = "1m"
      }"""
        },
        lambda j: _task(j)["CSIPluginConfig"],
        {
            "ID": "csi-hostpath",
            "Type": "monolith",
            "MountDir": "/csi",
            "StagePublishBaseDir": "/local/csi",
            "HealthTimeout": 60 * SECOND,
        },
    ),
    (
        "identity: the unnamed one is the default, named ones are Identities",
        {
            "task_body": """
      identity {
        env  = true
        file = true
      }
      identity {
        name          = "vault_default"
        aud           = ["vault.io"]
        change_mode   = "signal"
        change_signal = "SIGHUP"
        filepath      = "secrets/vault.jwt"
        ttl           = "1h"
      }"""
        },
        lambda j: (_task(j)["Identity"], _task(j)["Identities"]),
        (
            {
                "Name": "",
                "Audience": None,
                "ChangeMode": "",
                "ChangeSignal": "",
                "Env": True,
                "File": True,
                "Filepath": "",
                "ServiceName": "",
                "TTL": 0,
            },
            [
                {
                    "Name": "vault_default",
                    "Audience": ["vault.io"],
                    "ChangeMode": "signal",
                    "ChangeSignal": "SIGHUP",
                    "Env": False,
                    "File": False,
                    "Filepath": "secrets/vault.jwt",
                    "ServiceName": "",
                    "TTL": 3600 * SECOND,
                }
            ],
        ),
    ),
    (
        "action",
        {
            "task_body": """
      action "echo" {
        command = "/bin/echo"
        args    = ["hello"]
      }
      action "date" {
        command = "date"
      }"""
        },
        lambda j: _task(j)["Actions"],
        [
            {"Name": "echo", "Command": "/bin/echo", "Args": ["hello"]},
            {"Name": "date", "Command": "date", "Args": None},
        ],
    ),
    (
        "schedule",
        {
            "task_body": """
      schedule {
        cron {
          start    = "0 12 * * * *"
          end      = "0 16"
          timezone = "America/New_York"
        }
      }"""
        },
        lambda j: _task(j)["Schedule"],
        {"Cron": {"Start": "0 12 * * * *", "End": "0 16", "Timezone": "America/New_York"}},
    ),
    (
        "secret",
        {
            "task_body": """
      secret "db" {
        provider = "vault"
        path     = "secret/data/db"
        config {
          engine = "kv_v2"
        }
        env {
          DB_PASS = "password"
        }
      }"""
        },
        lambda j: _task(j)["Secrets"],
        [
            {
                "Name": "db",
                "Provider": "vault",
                "Path": "secret/data/db",
                "Config": {"engine": "kv_v2"},
                "Env": {"DB_PASS": "password"},
            }
        ],
    ),
    (
        "group disconnect",
        {
            "group_body": """
    disconnect {
      lost_after           = "6h"
      stop_on_client_after = "1h"
      replace              = false
      reconcile            = "keep_original"
    }"""
        },
        lambda j: _group(j)["Disconnect"],
        {
            "LostAfter": 6 * 3600 * SECOND,
            "StopOnClientAfter": 3600 * SECOND,
            "Replace": False,
            "Reconcile": "keep_original",
        },
    ),
    (
        "service identity and weights",
        {
            "group_body": """
    service {
      name = "web"
      identity {
        aud = ["consul.io"]
        ttl = "1h"
      }
      weights {
        passing = 3
        warning = 1
      }
    }"""
        },
        lambda j: (_group(j)["Services"][0]["Identity"], _group(j)["Services"][0]["Weights"]),
        (
            {
                "Name": "",
                "Audience": ["consul.io"],
                "ChangeMode": "",
                "ChangeSignal": "",
                "Env": False,
                "File": False,
                "Filepath": "",
                "ServiceName": "",
                "TTL": 3600 * SECOND,
            },
            {"Passing": 3, "Warning": 1},
        ),
    ),
    (
        "job ui",
        {
            "job_body": """
  ui {
    description = "A **job**"
    link {
      label = "Docs"
      url   = "https://example.com"
    }
  }"""
        },
        lambda j: j["UI"],
        {
            "Description": "A **job**",
            "Links": [{"Label": "Docs", "URL": "https://example.com"}],
        },
    ),
    (
        # jobspec2's decodeConstraint (checked with `nomad job run -output`): a true
        # distinct_hosts (bool or "true") sets the operand and leaves RTarget empty; false
        # is an equality constraint.
        "constraint distinct_hosts",
        {
            "job_body": """
  constraint {
    distinct_hosts = true
  }
  constraint {
    distinct_hosts = "true"
  }
  constraint {
    distinct_hosts = false
  }"""
        },
        lambda j: j["Constraints"],
        [
            {"LTarget": "", "RTarget": "", "Operand": "distinct_hosts"},
            {"LTarget": "", "RTarget": "", "Operand": "distinct_hosts"},
            {"LTarget": "", "RTarget": "", "Operand": "="},
        ],
    ),
]


@pytest.mark.parametrize(
    ("fragments", "select", "expected"),
    [pytest.param(f, s, e, id=name) for name, f, s, e in CASES],
)
def test_block_decodes_to_api_struct(fragments: dict[str, str], select: Any, expected: Any) -> None:
    assert select(_job(**fragments)) == expected


def test_blocks_newer_than_the_reported_api_appear_only_when_used() -> None:
    job = _job()
    assert "UI" not in job
    assert "Disconnect" not in _group(job)
    assert "Schedule" not in _task(job)
    assert "Secrets" not in _task(job)
    assert "CSIPluginConfig" not in _task(job)
    assert _task(job)["Identity"] is None
    assert _task(job)["ScalingPolicies"] is None
