#!/usr/bin/env python3
"""OCI image layout writer of e2e/images/build.sh (standard library only; no registry, no Docker).

  oci.py layer KIND SRC LAYOUT        a layer blob from a directory, descriptor (JSON) on stdout
      KIND full : SRC is a whole root filesystem (or files to add)
      KIND upper: SRC is an overlayfs upper directory: its whiteouts (0:0 character devices) become
                  `.wh.<name>` entries and opaque directories (trusted.overlay.opaque=y) get
                  `.wh..wh..opq`, as the OCI image spec's changeset layers have them
  oci.py assemble SPEC LAYERS VERSIONS LAYOUT OUT_JSON OUT_LIST
      writes each image's config and manifest, index.json (io.containerd.image.name = the full
      name, so `ctr images import` registers every image under its own name) and removes blobs no
      image uses; OUT_JSON/OUT_LIST describe the images (names, digests, chain ids, what they run)

Layers are tar streams in a fixed order (sorted names, numeric owners, no user names), compressed
with zstd when the `zstd` program exists, else gzip. What no container needs is left out of every
layer: documentation (copyright files kept), manual pages, translations, apt's package lists and
caches, logs, and the contents of /tmp, /var/tmp, /dev, /proc and /sys.
"""
import gzip
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

# directories kept (with their own metadata) but emptied in every layer
EMPTIED = {'tmp', 'var/tmp', 'dev', 'proc', 'sys', 'var/cache/apt', 'var/lib/apt/lists', 'var/log',
           'usr/share/man', 'usr/share/info', 'usr/share/locale', 'usr/share/lintian', 'root/.cache',
           'var/cache/debconf/tmp', 'var/lib/dpkg/tmp.ci'}
DOC = 'usr/share/doc'
KEEP_XATTRS = ('security.capability',)


def excluded(rel, is_dir):
    """True when the path rel (relative, no leading slash) is left out of layers."""
    parent = os.path.dirname(rel)
    while parent:
        if parent in EMPTIED:
            return True
        parent = os.path.dirname(parent)
    if rel.startswith(DOC + '/'):
        parts = rel.split('/')
        # usr/share/doc/<pkg> (a directory or a symlink) and usr/share/doc/<pkg>/copyright only
        if len(parts) == 4:
            return False
        return not (len(parts) == 5 and parts[4] == 'copyright' and not is_dir)
    if rel.endswith('-old') and (rel.startswith('var/cache/debconf/') or rel.startswith('var/lib/dpkg/')):
        return True
    return False


class HashingWriter:
    """A file object that hashes what goes through (the diff id) and passes it on."""

    def __init__(self, out):
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self):
        self.out.flush()


def sorted_walk(src):
    """Entries in tar order: a directory, then its whole subtree, names sorted at each level."""
    def rec(rel):
        full = os.path.join(src, rel) if rel else src
        for name in sorted(os.listdir(full)):
            r = os.path.join(rel, name) if rel else name
            p = os.path.join(src, r)
            st = os.lstat(p)
            yield r, p, st
            if stat.S_ISDIR(st.st_mode):
                yield from rec(r)
    yield from rec('')


def xattrs(path):
    out = {}
    for name in KEEP_XATTRS:
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out['SCHILY.xattr.' + name] = value.decode('utf-8', 'surrogateescape')
    return out


def is_opaque(path):
    for name in ('trusted.overlay.opaque', 'user.overlay.opaque'):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b'y':
                return True
        except OSError:
            pass
    return False


def whiteout_info(rel, st):
    info = tarfile.TarInfo(os.path.join(os.path.dirname(rel), '.wh.' + os.path.basename(rel)))
    info.type = tarfile.REGTYPE
    info.size = 0
    info.mode = 0o600
    info.mtime = int(st.st_mtime)
    return info


def write_tar(kind, src, fileobj):
    count = 0
    with tarfile.open(fileobj=fileobj, mode='w|', format=tarfile.PAX_FORMAT, encoding='utf-8') as tar:
        skip_under = None
        for rel, path, st in sorted_walk(src):
            if skip_under and rel.startswith(skip_under):
                continue
            skip_under = None
            is_dir = stat.S_ISDIR(st.st_mode)
            if excluded(rel, is_dir):
                if is_dir:
                    skip_under = rel + '/'
                continue
            if kind == 'upper' and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                tar.addfile(whiteout_info(rel, st))
                count += 1
                continue
            if stat.S_ISSOCK(st.st_mode):
                continue
            info = tar.gettarinfo(path, arcname=rel)
            info.uname = info.gname = ''
            info.mtime = int(st.st_mtime)
            info.pax_headers = xattrs(path) if not stat.S_ISLNK(st.st_mode) else {}
            if info.isreg():
                with open(path, 'rb') as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            count += 1
            if is_dir and kind == 'upper' and is_opaque(path):
                opq = tarfile.TarInfo(os.path.join(rel, '.wh..wh..opq'))
                opq.mtime = int(st.st_mtime)
                opq.mode = 0o600
                tar.addfile(opq)
                count += 1
    return count


def cmd_layer(kind, src, layout):
    blobs = os.path.join(layout, 'blobs', 'sha256')
    os.makedirs(blobs, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=blobs, prefix='.layer-')
    os.close(fd)
    try:
        if shutil.which('zstd'):
            media = 'application/vnd.oci.image.layer.v1.tar+zstd'
            with open(tmp, 'wb') as out:
                proc = subprocess.Popen(['zstd', '-q', '-3', '-T2', '-c'], stdin=subprocess.PIPE, stdout=out)
                writer = HashingWriter(proc.stdin)
                count = write_tar(kind, src, writer)
                proc.stdin.close()
                if proc.wait() != 0:
                    raise SystemExit('oci.py: zstd failed')
        else:
            media = 'application/vnd.oci.image.layer.v1.tar+gzip'
            with open(tmp, 'wb') as out, gzip.GzipFile(fileobj=out, mode='wb', compresslevel=3, mtime=0) as gz:
                writer = HashingWriter(gz)
                count = write_tar(kind, src, writer)
        digest = file_digest(tmp)
        size = os.path.getsize(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(blobs, digest.split(':')[1]))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    json.dump({'mediaType': media, 'digest': digest, 'size': size,
               'diffId': 'sha256:' + writer.sha.hexdigest(), 'uncompressedSize': writer.size, 'entries': count},
              sys.stdout)
    print()


def file_digest(path):
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            sha.update(chunk)
    return 'sha256:' + sha.hexdigest()


def put_blob(layout, data):
    digest = 'sha256:' + hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, 'blobs', 'sha256', digest.split(':')[1])
    if not os.path.exists(path):
        with open(path + '.tmp', 'wb') as f:
            f.write(data)
        os.replace(path + '.tmp', path)
    return digest, len(data)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(',', ':')).encode()


def chain_ids(diff_ids):
    out = []
    for d in diff_ids:
        out.append(d if not out else 'sha256:' + hashlib.sha256((out[-1] + ' ' + d).encode()).hexdigest())
    return out


def cmd_assemble(spec_file, layers_file, versions_file, layout, out_json, out_list):
    with open(spec_file) as f:
        spec = json.load(f)
    with open(layers_file) as f:
        layers = json.load(f)
    with open(versions_file) as f:
        versions = json.load(f)
    for image in spec['images']:
        image['runs'] = image['runs'].format_map(versions)
        if 'Env' in image['config']:
            image['config']['Env'] = [e.format_map(versions) for e in image['config']['Env']]
    index = {'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.index.v1+json', 'manifests': []}
    described = []
    used = set()
    for image in spec['images']:
        descs = [layers[name] for name in image['layers']]
        diff_ids = [d['diffId'] for d in descs]
        config = {
            'architecture': 'amd64',
            'os': 'linux',
            'config': image['config'],
            'rootfs': {'type': 'layers', 'diff_ids': diff_ids},
            'history': [{'created_by': 'e2e/images/build.sh: layer ' + name, 'comment': layers[name].get('comment', '')}
                        for name in image['layers']],
        }
        config['config'].setdefault('Labels', {}).update({
            'org.opencontainers.image.title': image['name'],
            'org.opencontainers.image.description': image['runs'],
            'io.pg-ha-cdk8s.e2e.stand-in': 'built by pg-ha-cdk8s e2e/images/build.sh, not the published image',
        })
        config_digest, config_size = put_blob(layout, canonical(config))
        manifest = {
            'schemaVersion': 2,
            'mediaType': 'application/vnd.oci.image.manifest.v1+json',
            'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': config_digest, 'size': config_size},
            'layers': [{'mediaType': d['mediaType'], 'digest': d['digest'], 'size': d['size']} for d in descs],
        }
        manifest_digest, manifest_size = put_blob(layout, canonical(manifest))
        used.update([config_digest, manifest_digest] + [d['digest'] for d in descs])
        index['manifests'].append({
            'mediaType': 'application/vnd.oci.image.manifest.v1+json',
            'digest': manifest_digest,
            'size': manifest_size,
            'platform': {'architecture': 'amd64', 'os': 'linux'},
            'annotations': {'io.containerd.image.name': image['ref'], 'org.opencontainers.image.ref.name': image['ref']},
        })
        described.append({
            'name': image['name'], 'ref': image['ref'], 'manifest': manifest_digest, 'config': config_digest,
            'chainId': chain_ids(diff_ids)[-1], 'layers': image['layers'],
            'size': sum(d['size'] for d in descs), 'uncompressedSize': sum(d['uncompressedSize'] for d in descs),
            'runs': image['runs'], 'user': image['config'].get('User', ''),
            'entrypoint': image['config'].get('Entrypoint') or [], 'cmd': image['config'].get('Cmd') or [],
            'env': image['config'].get('Env') or [], 'workdir': image['config'].get('WorkingDir', ''),
        })
    with open(os.path.join(layout, 'oci-layout'), 'w') as f:
        json.dump({'imageLayoutVersion': '1.0.0'}, f)
    with open(os.path.join(layout, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
    blobs = os.path.join(layout, 'blobs', 'sha256')
    for name in os.listdir(blobs):
        if 'sha256:' + name not in used:
            os.unlink(os.path.join(blobs, name))
    with open(out_json, 'w') as f:
        json.dump({'images': described, 'layers': layers}, f, indent=1)
    with open(out_list, 'w') as f:
        f.write('# images built by e2e/images/build.sh: name, then what it really runs\n')
        for d in described:
            f.write('{0}\t{1}\n'.format(d['name'], d['runs']))


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == 'layer' and args[1] in ('full', 'upper'):
        cmd_layer(args[1], args[2], args[3])
    elif len(args) == 7 and args[0] == 'assemble':
        cmd_assemble(*args[1:])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
