# Shared by the bench scripts that start local servers (source it after
# defining die and PORT_BASE, and an array pids that the script's cleanup
# kills). Ports: next_port sets PORT to the next free one above the last.
PORT=$PORT_BASE
next_port() {
    while :; do
        PORT=$((PORT + 1))
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 0
    done
}
wait_port() {
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    die "nothing listens on $1"
}

# nginx with one worker on PORT, serving ROOT_DIR (static) or the plaintext
# answer "Hello, World!" (no ROOT_DIR); its pid goes to pids and NGINX_PID.
start_nginx() { # port [root_dir]
    local d; d=$(mktemp -d)
    local loc='default_type text/plain; return 200 "Hello, World!";'
    [ -n "${2:-}" ] && loc="root $2;"
    cat >"$d/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $d/nginx.pid; error_log $d/error.log crit;
events { worker_connections 16384; }
http { access_log off; client_body_temp_path $d/b; proxy_temp_path $d/p;
  fastcgi_temp_path $d/f; uwsgi_temp_path $d/u; scgi_temp_path $d/s;
  keepalive_requests 1000000; default_type text/html;
  server { listen 127.0.0.1:$1; location / { $loc } } }
NGINX
    nginx -c "$d/nginx.conf" -p "$d" & pids+=($!)
    NGINX_PID=$!
    wait_port "$1"
}
