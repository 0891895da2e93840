#!/usr/bin/env bash
# Builds the images yurt's docker tests and the seed's jobs use, without a registry:
#   localhost/yurt-busybox:latest  busybox-static and its applet links
#   nginx:alpine                   Debian's /usr/sbin/nginx + its libraries, listening on 80
#   redis:7                        Debian's /usr/bin/redis-server + its libraries, on 6379
# Each image is `podman import`ed from a root filesystem made here. Idempotent: an image
# that exists is kept (FORCE=1 rebuilds). Uses the same containers.conf as podman-service.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="$here/podman/containers.conf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have() { [ "${FORCE:-0}" != 1 ] && podman image exists "$1"; }

busybox_root() {  # $1: root dir; busybox and its applets in /bin
  local root=$1 bb
  bb=$(command -v busybox || echo /bin/busybox)
  mkdir -p "$root"/{bin,sbin,etc,tmp,proc,sys,dev,var/run,usr/bin,usr/sbin}
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nnginx:x:101:101:nginx:/var/lib/nginx:/bin/false\nredis:x:999:999:redis:/data:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnginx:x:101:\nredis:x:999:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

copy_with_libs() {  # $1: root dir, $2: binary; copies it and what ldd says it loads
  local root=$1 bin=$2 lib
  mkdir -p "$root$(dirname "$bin")"
  cp -L "$bin" "$root$bin"
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

import() {  # $1: root dir, $2: image, rest: --change options
  local root=$1 image=$2
  shift 2
  tar -C "$root" -cf "$work/rootfs.tar" .
  podman import -q "$@" "$work/rootfs.tar" "$image" >/dev/null
  echo "built $image"
}

if ! have localhost/yurt-busybox:latest; then
  root="$work/busybox"
  busybox_root "$root"
  import "$root" localhost/yurt-busybox:latest --change 'CMD ["/bin/sh"]'
fi

if ! have docker.io/library/nginx:alpine; then
  root="$work/nginx"
  busybox_root "$root"
  copy_with_libs "$root" /usr/sbin/nginx
  mkdir -p "$root"/etc/nginx "$root"/usr/share/nginx/html "$root"/var/log/nginx \
    "$root"/var/lib/nginx/body "$root"/var/cache/nginx
  cat >"$root/etc/nginx/nginx.conf" <<'CONF'
user root;
worker_processes 1;
error_log /dev/stderr notice;
pid /var/run/nginx.pid;
events { worker_connections 256; }
http {
  access_log /dev/stdout;
  default_type text/html;
  client_body_temp_path /var/lib/nginx/body;
  proxy_temp_path /var/cache/nginx/proxy;
  fastcgi_temp_path /var/cache/nginx/fastcgi;
  uwsgi_temp_path /var/cache/nginx/uwsgi;
  scgi_temp_path /var/cache/nginx/scgi;
  server {
    listen 80;
    location / { root /usr/share/nginx/html; index index.html; }
  }
}
CONF
  cat >"$root/usr/share/nginx/html/index.html" <<'HTML'
<!DOCTYPE html>
<html><head><title>Welcome to nginx!</title></head>
<body><h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and working.</p>
</body></html>
HTML
  import "$root" docker.io/library/nginx:alpine \
    --change 'CMD ["nginx", "-g", "daemon off;"]' --change 'EXPOSE 80' \
    --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin'
fi

if ! have docker.io/library/redis:7; then
  root="$work/redis"
  busybox_root "$root"
  copy_with_libs "$root" /usr/bin/redis-server
  mkdir -p "$root/data"
  import "$root" docker.io/library/redis:7 \
    --change 'CMD ["redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", "--save", "", "--dir", "/data"]' \
    --change 'EXPOSE 6379' --change 'WORKDIR /data' \
    --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
fi
