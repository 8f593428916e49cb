/**
 * git's pkt-line framing and the receive-pack `report-status` answer.
 * Framing: https://git-scm.com/docs/gitprotocol-common#_pkt_line_format
 * report-status: https://git-scm.com/docs/gitprotocol-pack#_report_status
 */

/** `0000`: ends a section (the command list of a push, a response). */
export const FLUSH_PKT = Buffer.from('0000', 'latin1');

/** Frames `payload` as one pkt-line: 4 hex digits of total length (including themselves), then the bytes. */
export function pktLine(payload: string | Uint8Array): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const length = data.length + 4;
  if (length > 65520) throw new RangeError(`pkt-line payload too long (${data.length} bytes)`);
  return Buffer.concat([Buffer.from(length.toString(16).padStart(4, '0'), 'latin1'), data]);
}

/** Splits a buffer of pkt-lines; `null` stands for a flush/delim packet. Trailing LF is dropped. */
export function parsePktLines(buf: Uint8Array): Array<string | null> {
  // 0000 flush, 0001 delim, 0002 response-end (protocol v2): all section ends here.
  return splitPackets(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)).map((p) =>
    p === null ? null : p.toString('utf8').replace(/\n$/, ''),
  );
}

/** What receive-pack reported: the unpack result and one status per ref. */
export interface ReportStatus {
  /** `ok`, or the reason the pack could not be unpacked. */
  unpack: string;
  /** Per ref: null when updated (`ok <ref>`), else the reason of `ng <ref> <reason>`. */
  refs: Map<string, string | null>;
  /** The message of an `ERR <message>` packet, when the server sent one. */
  error?: string;
}

/** A receive-pack answer taken apart: the report-status and what the server said on the side. */
export interface PushAnswer {
  report: ReportStatus;
  /**
   * What the remote printed for the person pushing (side-band 2: hook output, a host's
   * "protected branch" notice), one entry per line, as `git push` shows them after `remote:`.
   */
  messages: string[];
}

/**
 * Parses a receive-pack answer requested with `side-band-64k`: every packet is one band
 * byte and data. Band 1 carries the report-status pkt-lines, band 2 the messages (hook
 * stderr: the only place a pre-receive hook's reason reaches the pusher), band 3 a fatal
 * error. A server that ignored the capability answers bare pkt-lines, read as such.
 * https://git-scm.com/docs/gitprotocol-pack#_pushing_data_to_a_server (side-band-64k)
 */
export function parsePushAnswer(buf: Uint8Array): PushAnswer {
  const data = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const packets = splitPackets(data);
  const sideBand = packets.some((p) => p !== null && p.length > 0 && p[0]! >= 1 && p[0]! <= 3);
  if (!sideBand) return { report: parseReportStatus(data), messages: [] };
  const bands: Buffer[][] = [[], [], [], []];
  for (const p of packets) if (p !== null && p.length > 0 && p[0]! <= 3) bands[p[0]!]!.push(p.subarray(1));
  const report = parseReportStatus(Buffer.concat(bands[1]!));
  // Progress output uses \r to redraw a line; only whole lines are messages.
  const messages = Buffer.concat(bands[2]!)
    .toString('utf8')
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
  const fatal = Buffer.concat(bands[3]!).toString('utf8').trim();
  if (fatal) report.error ??= fatal;
  return { report, messages };
}

/** The payloads of a pkt-line stream as bytes (`null`: flush/delim). */
function splitPackets(data: Buffer): Array<Buffer | null> {
  const packets: Array<Buffer | null> = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new Error('truncated pkt-line header');
    const hex = data.toString('latin1', pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error(`invalid pkt-line length ${JSON.stringify(hex)}`);
    const length = Number.parseInt(hex, 16);
    if (length < 4) {
      packets.push(null);
      pos += 4;
      continue;
    }
    if (pos + length > data.length) throw new Error('truncated pkt-line');
    packets.push(data.subarray(pos + 4, pos + length));
    pos += length;
  }
  return packets;
}

/** Parses a bare `report-status` response (each line a pkt-line). */
export function parseReportStatus(buf: Uint8Array): ReportStatus {
  const status: ReportStatus = { unpack: '', refs: new Map() };
  for (const line of parsePktLines(buf)) {
    if (line === null) continue;
    if (line.startsWith('ERR ')) status.error = line.slice(4);
    else if (line.startsWith('unpack ')) status.unpack = line.slice(7);
    else if (line.startsWith('ok ')) status.refs.set(line.slice(3), null);
    else if (line.startsWith('ng ')) {
      const rest = line.slice(3);
      const space = rest.indexOf(' ');
      if (space < 0) status.refs.set(rest, 'rejected');
      else status.refs.set(rest.slice(0, space), rest.slice(space + 1));
    }
  }
  return status;
}
