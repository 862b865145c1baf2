# nginx serving a directory on a free local port, its access log counting
# the requests and bytes a reader costs. Sourced by the benchmarks that read
# over plain HTTP:
#   . bench/nginx.sh
#   trap 'nginx_stop' EXIT
#   nginx_serve DIR       # starts it; sets $nginx_port
#   nginx_reset_log       # before each measured read
#   nginx_totals          # prints "REQUESTS BYTES" since the reset
nginx_serve() {
  nginx_dir=$(mktemp -d)
  chmod 755 "$1"  # nginx's workers read it
  nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$nginx_dir/nginx.conf" <<CONF
worker_processes 1;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log;
events { worker_connections 64; }
http {
  log_format counts '\$status \$body_bytes_sent';
  access_log $nginx_dir/access.log counts;
  client_body_temp_path $nginx_dir;
  server { listen 127.0.0.1:$nginx_port; root $1; }
}
CONF
  nginx -e "$nginx_dir/error.log" -p "$nginx_dir" -c "$nginx_dir/nginx.conf"
}

nginx_stop() {
  [ -n "${nginx_dir:-}" ] || return 0
  [ -f "$nginx_dir/nginx.pid" ] && nginx -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -s stop 2>/dev/null
  rm -rf "$nginx_dir"
}

nginx_reset_log() { : >"$nginx_dir/access.log"; }

nginx_totals() { awk '{n++; b+=$2} END {printf "%d %d\n", n, b}' "$nginx_dir/access.log"; }
