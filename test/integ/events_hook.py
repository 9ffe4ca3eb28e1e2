# test/integ/events_hook.py PORT PREFIX - a webhook endpoint for
# events.sh on 127.0.0.1:PORT: a POST to /ok answers 204 and appends its
# body (one line) to PREFIX.ok; one to /fail answers 500 and writes the
# number of such POSTs so far to PREFIX.fail.
import http.server
import sys

port, prefix = int(sys.argv[1]), sys.argv[2]
fails = 0


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global fails
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/ok":
            if body != b"{}":
                with open(prefix + ".ok", "ab") as f:
                    f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(204)
        else:
            fails += 1
            with open(prefix + ".fail", "w") as f:
                f.write("%d\n" % fails)
            self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
