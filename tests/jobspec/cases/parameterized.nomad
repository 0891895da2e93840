job "video-encode" {
  datacenters = ["dc1"]
  type        = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["input", "profile"]
    meta_optional = ["priority"]
  }

  meta {
    owner = "media-team"
  }

  group "encode" {
    task "ffmpeg" {
      driver = "docker"

      dispatch_payload {
        file = "job.json"
      }

      config {
        image   = "jrottenberg/ffmpeg:6-alpine"
        command = "ffmpeg"
        args    = ["-i", "${NOMAD_META_input}", "-preset", "${NOMAD_META_profile}", "out.mp4"]
      }

      resources {
        cores  = 2
        memory = 2048
      }
    }
  }
}
