#!/usr/bin/env python3
"""Helpers for tests/deploy/kube-play.sh (standard library only; the target pod runs 'duplex-server').

  secret-volume MANIFEST DIR --gid GID [--mode 0440] [--drop KEY]
      Lays out (or updates) DIR from a Secret manifest exactly as the kubelet's AtomicWriter does: the data in a new
      timestamped folder '..2026_12_06_16_48_03.NNNN', a '..data_tmp' symlink to it renamed over '..data', one
      'KEY -> ..data/KEY' symlink per key, the previous folder removed. Files root-owned, group GID, mode --mode (what
      defaultMode 0440 with fsGroup GID gives).
  duplex-server PORT
      For each connection: reads a 16-byte header (upload length, download length), sends the first half of the
      download, reads the whole upload, sends the second half, then the upload's SHA-256 (32 bytes), and closes.
  duplex-client PROXY_HOST PROXY_PORT TARGET SIZE GATE_FILE START_FILE
      CONNECT TARGET through the proxy; sends SIZE bytes up and reads SIZE down. Sends the second half of the upload
      only once GATE_FILE exists (so the connection spans whatever the test does meanwhile); touches START_FILE once
      the first halves crossed. Checks both directions by SHA-256 and prints one line; exit 0 only if both match.
  service-proxy PORT TARGET_HOST TARGET_PORT PIDFILE
      What a Service does for the test: accepts on PORT and relays each connection to TARGET (both ways, half-closes
      passed on). The site's tunnel-client dials tunnel.example.com:443, which is this, in front of the pod's 8443.
  compare-render BASE_YAML PLAYED_YAML SUFFIX
      Checks that PLAYED_YAML (the test overlay's render) is BASE_YAML (deploy/kubernetes render) but for the
      documented substitutions: the name suffix, the images, the 'tls' Secret volume as a hostPath, hostAliases, hostIP/hostPort, replicas.
"""
import hashlib, os, random, socket, struct, sys, time  # what python3-minimal has (duplex-server and service-proxy run in the target container)

def secret_volume(args):
    import base64, subprocess
    manifest, target = args[0], args[1]
    gid = int(args[args.index('--gid') + 1])
    mode = int(args[args.index('--mode') + 1], 8) if '--mode' in args else 0o440
    drop = args[args.index('--drop') + 1] if '--drop' in args else None
    data = {}
    in_data = False
    for line in open(manifest):
        if line.startswith('#') or not line.strip():
            continue
        if not line.startswith(' '):
            in_data = line.startswith('data:')
            continue
        if in_data:
            key, value = line.strip().split(':', 1)
            data[key.strip()] = base64.b64decode(value.strip())
    if drop:
        data.pop(drop)
    os.makedirs(target, exist_ok=True)
    link = os.path.join(target, '..data')
    old = os.readlink(link) if os.path.islink(link) else None
    stamp = time.strftime('..%Y_%m_%d_%H_%M_%S.', time.gmtime()) + '%09d' % random.randrange(10**9)
    folder = os.path.join(target, stamp)
    os.mkdir(folder, 0o755)
    for key, value in data.items():
        path = os.path.join(folder, key)
        with open(path, 'wb') as f:
            f.write(value)
        os.chown(path, 0, gid)
        os.chmod(path, mode)
    tmp = os.path.join(target, '..data_tmp')
    os.symlink(stamp, tmp)
    os.rename(tmp, link)
    for key in data:
        visible = os.path.join(target, key)
        if not os.path.islink(visible):
            os.symlink(os.path.join('..data', key), visible)
    if old:
        subprocess.run(['rm', '-rf', os.path.join(target, old)], check=True)

def pattern(seed, size):
    """Deterministic bytes, 64 KiB at a time."""
    rng = random.Random(seed)
    sent = 0
    while sent < size:
        n = min(65536, size - sent)
        yield rng.randbytes(n)
        sent += n

def read_exactly(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError('connection closed %d bytes early' % n)
        chunks.append(chunk)
        n -= len(chunk)
    return b''.join(chunks)

def duplex_server(args):
    import threading
    listener = socket.create_server(('0.0.0.0', int(args[0])), reuse_port=False)
    def serve(conn):
        with conn:
            up, down = struct.unpack('>QQ', read_exactly(conn, 16))
            parts = list(pattern(2, down))
            half = len(parts) // 2
            for part in parts[:half]:
                conn.sendall(part)
            digest = hashlib.sha256()
            left = up
            while left:
                chunk = conn.recv(min(left, 1 << 20))
                if not chunk:
                    return
                digest.update(chunk)
                left -= len(chunk)
            for part in parts[half:]:
                conn.sendall(part)
            conn.sendall(digest.digest())
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()

def duplex_client(args):
    proxy_host, proxy_port, target, size, gate, start = args[0], int(args[1]), args[2], int(args[3]), args[4], args[5]
    sock = socket.create_connection((proxy_host, proxy_port), timeout=120)
    sock.sendall(('CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (target, target)).encode())
    head = b''
    while b'\r\n\r\n' not in head:
        chunk = sock.recv(1)
        if not chunk:
            print('duplex: proxy closed during CONNECT: %r' % head); return 1
        head += chunk
    if b' 200 ' not in head.split(b'\r\n')[0]:
        print('duplex: CONNECT refused: %r' % head.split(b'\r\n')[0]); return 1
    sock.sendall(struct.pack('>QQ', size, size))
    import threading
    received = {}
    def reader():
        digest = hashlib.sha256(); total = 0
        try:
            while total < size:
                chunk = sock.recv(min(size - total, 1 << 20))
                if not chunk:
                    break
                digest.update(chunk); total += len(chunk)
            received['down'] = (digest.hexdigest(), total)
            received['upload_digest'] = read_exactly(sock, 32).hex()
        except Exception as e:  # reported below
            received['error'] = repr(e)
    t = threading.Thread(target=reader); t.start()
    parts = list(pattern(1, size))
    up_digest = hashlib.sha256()
    for i, part in enumerate(parts):
        if i == len(parts) // 2:
            open(start, 'w').close()
            deadline = time.time() + 120
            while not os.path.exists(gate):
                if time.time() > deadline:
                    print('duplex: gate file never appeared'); return 1
                time.sleep(0.1)
        up_digest.update(part)
        sock.sendall(part)
    t.join(120)
    expected_down = hashlib.sha256(b''.join(pattern(2, size))).hexdigest()
    down = received.get('down', ('none', 0))
    ok = down == (expected_down, size) and received.get('upload_digest') == up_digest.hexdigest()
    print('duplex: %s: up %d bytes sha256 %s (server got %s); down %d bytes sha256 %s (expected %s)%s' % (
        'intact both ways' if ok else 'MISMATCH', size, up_digest.hexdigest(), received.get('upload_digest'),
        down[1], down[0], expected_down, (' error ' + received['error']) if 'error' in received else ''))
    return 0 if ok else 1

def service_proxy(args):
    import threading
    listener = socket.create_server(('0.0.0.0', int(args[0])))
    target = (args[1], int(args[2]))
    with open(args[3], 'w') as f:
        f.write(str(os.getpid()))
    def pump(src, dst):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(data)
        except OSError:
            for s in (src, dst):
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); s.close()
                except OSError:
                    pass
    def serve(conn):
        try:
            upstream = socket.create_connection(target, timeout=10)
            upstream.settimeout(None)
        except OSError:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); conn.close()
            return
        threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()
        pump(upstream, conn)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()

def docs(path):
    import yaml  # python3-yaml, installed by the test
    return [d for d in yaml.safe_load_all(open(path)) if d]

def compare_render(args):
    import json
    base, played, suffix = docs(args[0]), docs(args[1]), args[2]
    import re
    # A generated ConfigMap's name ends in a hash of its content; kustomize v2 (kubectl 1.20) hashes the suffixed
    # name, v5 the content only, so the hash is compared by the content it covers, not by itself.
    unhash = lambda n: re.sub(r'-[a-z0-9]{10}$', '-HASH', n)
    def normalize(doc, strip):
        doc = json.loads(json.dumps(doc))
        name = doc['metadata']['name']
        if strip:
            # kustomize v2 suffixes the Namespace too, v5 does not.
            assert doc['kind'] == 'Namespace' or name.endswith('-' + suffix) or ('-' + suffix + '-') in name, 'no suffix on ' + name
            doc['metadata']['name'] = name = name.replace('-' + suffix, '')
        if doc['kind'] == 'ConfigMap':
            doc['metadata']['name'] = unhash(name)
        if doc['kind'] == 'Deployment':
            doc['spec']['replicas'] = 'REPLICAS'
        spec = doc.get('spec', {}).get('template', {}).get('spec')
        if spec:
            spec.pop('hostAliases', None)
            for c in spec['containers']:
                c['image'] = 'IMAGE'
                for port in c.get('ports', []):
                    port.pop('hostIP', None); port.pop('hostPort', None)
            for v in spec['volumes']:
                if v['name'] == 'tls':
                    v.clear(); v['name'] = 'tls'
                if 'configMap' in v:
                    v['configMap']['name'] = unhash(v['configMap']['name'].replace('-' + suffix, '') if strip else v['configMap']['name'])
        if doc['kind'] == 'HorizontalPodAutoscaler' and strip:
            doc['spec']['scaleTargetRef']['name'] = doc['spec']['scaleTargetRef']['name'].replace('-' + suffix, '')
        return doc
    a = sorted((json.dumps(normalize(d, False), sort_keys=True) for d in base))
    b = sorted((json.dumps(normalize(d, True), sort_keys=True) for d in played))
    if a != b:
        for x, y in zip(a, b):
            if x != y:
                print('render differs beyond the documented substitutions:\n  manifests: %s\n  played:    %s' % (x[:2000], y[:2000]))
        return 1
    print('render: the played YAML is the kustomize render but for the documented substitutions (%d documents)' % len(a))
    return 0

if __name__ == '__main__':
    command, rest = sys.argv[1], sys.argv[2:]
    sys.exit({'secret-volume': secret_volume, 'service-proxy': service_proxy, 'duplex-server': duplex_server, 'duplex-client': duplex_client,
              'compare-render': compare_render}[command](rest) or 0)
