/**
 * One serialisation of an answer that many subscribers are sent. graphql-ws stringifies every `next`
 * message whole, per subscriber: 10,000 subscribers of one shared execution cost 10,000
 * serialisations of the same payload. Here graphql-ws's `jsonMessageReplacer` puts a marker in place
 * of a message's payload, the payload object is serialised once (and kept while the object lives),
 * and `frame` puts that JSON back in place of the marker as the frame is written to the socket.
 *
 * graphql-ws writes a message to the socket in the same turn as it stringifies it, so the JSON of the
 * payload just replaced travels with it; `payload` is the last key of every message that has one, so
 * the marker is found at the end, after anything a client chose (its subscription id).
 */
const MARKER = '\u0000payload\u0000';
/** The marker as it appears in the stringified message, with the message's closing brace. */
const MARKED_END = `${JSON.stringify(MARKER)}}`;

export interface SharedPayloads {
  /** graphql-ws's `jsonMessageReplacer`. */
  readonly replacer: (this: unknown, key: string, value: unknown) => unknown;
  /**
   * The frame to write for a stringified message: the message's text, or, for a shared payload, its
   * UTF-8 bytes, built once for every subscriber that uses the same subscription id (dashboards
   * mostly say "1"), so the socket writes them without encoding the text again.
   */
  frame(data: string): string | Buffer;
}

/** A payload serialised, and its whole messages by what precedes the payload (id and type). */
interface Serialised {
  readonly json: string;
  readonly messages: Map<string, Buffer>;
}

/** Distinct message heads kept per payload (subscription ids beyond these are framed per socket). */
const HEADS_KEPT = 8;

export function sharedPayloads(): SharedPayloads {
  const serialised = new WeakMap<object, Serialised>();
  let carried: Serialised | null = null;
  return {
    replacer(this: unknown, key: string, value: unknown): unknown {
      // Only a message's own payload: the holder is the message (it has a type), not anything inside.
      if (key !== 'payload' || typeof value !== 'object' || value === null) return value;
      if (typeof this !== 'object' || this === null || !('type' in this)) return value;
      let entry = serialised.get(value);
      if (entry === undefined) {
        entry = { json: JSON.stringify(value), messages: new Map() };
        serialised.set(value, entry);
      }
      carried = entry;
      return MARKER;
    },
    frame(data: string): string | Buffer {
      const entry = carried;
      carried = null;
      if (entry === null || !data.endsWith(MARKED_END)) return data;
      const head = data.slice(0, data.length - MARKED_END.length);
      let message = entry.messages.get(head);
      if (message === undefined) {
        message = Buffer.from(`${head}${entry.json}}`);
        if (entry.messages.size < HEADS_KEPT) entry.messages.set(head, message);
      }
      return message;
    },
  };
}
