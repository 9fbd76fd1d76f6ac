/*
 * A tiny authoritative DNS server (UDP) for the test bed's names: A records
 * from a map that the test bed updates as pods come and go, NODATA for other
 * types of a known name, NXDOMAIN for unknown names. It lets HAProxy's
 * `resolvers` section really resolve the pod FQDNs of the manifests.
 */
import * as dgram from 'dgram';
import { log } from './log';

export class DnsServer {
  private sock?: dgram.Socket;
  private records = new Map<string, string[]>();
  queries = 0;

  constructor(readonly address: string, readonly port: number, readonly ttl = 5) {}

  set(name: string, ips: string[]): void {
    this.records.set(name.toLowerCase().replace(/\.$/, ''), ips);
  }

  delete(name: string): void {
    this.records.delete(name.toLowerCase().replace(/\.$/, ''));
  }

  lookup(name: string): string[] | undefined {
    return this.records.get(name.toLowerCase().replace(/\.$/, ''));
  }

  names(): string[] {
    return [...this.records.keys()];
  }

  async start(): Promise<void> {
    const sock = dgram.createSocket({ type: 'udp4' });
    this.sock = sock;
    sock.on('message', (msg, rinfo) => {
      try {
        const resp = this.answer(msg);
        if (resp) sock.send(resp, rinfo.port, rinfo.address);
      } catch {
        /* malformed query: drop */
      }
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.port, this.address, () => resolve());
    });
    sock.unref();
    log(`dns: serving ${this.records.size} names on ${this.address}:${this.port} (udp)`);
  }

  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** Build the response for one query packet (RFC 1035 wire format). */
  answer(q: Buffer): Buffer | undefined {
    if (q.length < 12) return undefined;
    const id = q.readUInt16BE(0);
    const flags = q.readUInt16BE(2);
    if (flags & 0x8000) return undefined; // a response, not a query
    const qdcount = q.readUInt16BE(4);
    if (qdcount !== 1) return this.header(id, flags, 4 /* NOTIMP */, 0, 0, q.subarray(12, 12));
    // parse the question name
    const labels: string[] = [];
    let off = 12;
    for (;;) {
      const len = q[off];
      if (len === undefined) return undefined;
      if (len === 0) {
        off += 1;
        break;
      }
      if (len & 0xc0) return undefined; // no compression in questions
      labels.push(q.subarray(off + 1, off + 1 + len).toString('latin1'));
      off += 1 + len;
    }
    const qtype = q.readUInt16BE(off);
    const qclass = q.readUInt16BE(off + 2);
    const question = q.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    const ips = this.records.get(name);
    this.queries++;
    if (!ips) return this.header(id, flags, 3 /* NXDOMAIN */, 1, 0, question);
    if (qtype !== 1 /* A */ || qclass !== 1) return this.header(id, flags, 0, 1, 0, question); // NODATA
    const answers = ips.map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(this.ttl, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
      return rr;
    });
    return Buffer.concat([this.header(id, flags, 0, 1, answers.length, question), ...answers]);
  }

  private header(id: number, qflags: number, rcode: number, qd: number, an: number, question: Buffer): Buffer {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(id, 0);
    // QR=1, opcode from query, AA=1, RD copied, RA=0
    h.writeUInt16BE(0x8000 | (qflags & 0x7800) | 0x0400 | (qflags & 0x0100) | rcode, 2);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    h.writeUInt16BE(0, 8);
    h.writeUInt16BE(0, 10);
    return Buffer.concat([h, qd ? question : Buffer.alloc(0)]);
  }
}
