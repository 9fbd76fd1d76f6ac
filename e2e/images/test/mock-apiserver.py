#!/usr/bin/env python3
"""A stand-in for the Kubernetes API server's pod PATCH, for e2e/images/check.sh only (our own code).

  mock-apiserver.py CERT KEY TOKEN LOG

Serves HTTPS on 127.0.0.1:443 with CERT/KEY (a certificate for kubernetes.default.svc.cluster.local
from the CA check.sh puts in the pod's ServiceAccount directory). Every request is appended to LOG as
one JSON line (method, path, content type, whether the bearer token matched, body). A PATCH of
/api/v1/namespaces/<ns>/pods/<name> with the right token answers 200, a wrong token 401, anything
else 404. Standard library only.
"""
import http.server
import json
import ssl
import sys

CERT, KEY, TOKEN, LOG = sys.argv[1:5]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_PATCH(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0)).decode()
        auth_ok = self.headers.get('Authorization') == 'Bearer ' + TOKEN
        parts = self.path.strip('/').split('/')
        with open(LOG, 'a') as f:
            f.write(json.dumps({'method': 'PATCH', 'path': self.path, 'contentType': self.headers.get('Content-Type'),
                                'authOk': auth_ok, 'body': json.loads(body or 'null')}) + '\n')
        if not auth_ok:
            code, answer = 401, {'kind': 'Status', 'code': 401, 'reason': 'Unauthorized'}
        elif len(parts) == 6 and parts[:3] == ['api', 'v1', 'namespaces'] and parts[4] == 'pods':
            code, answer = 200, {'kind': 'Pod', 'metadata': {'name': parts[5], 'namespace': parts[3]}}
        else:
            code, answer = 404, {'kind': 'Status', 'code': 404, 'reason': 'NotFound'}
        data = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write('mock-apiserver: ' + (fmt % args) + '\n')


server = http.server.HTTPServer(('127.0.0.1', 443), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
print('mock-apiserver: listening on https://127.0.0.1:443', flush=True)
server.serve_forever()
