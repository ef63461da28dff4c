/**
 * YAML for readers that follow YAML 1.1, as PyYAML does (Heat's environment and template parsers,
 * cloud-init's network-config), and for YAML 1.2 readers alike (netplan's libyaml, the `yaml` package).
 *
 * Under YAML 1.1 a plain scalar may not be a string: `on`, `Yes`, `no`, `y` are booleans, `null` and `~`
 * are null, `52:54:00:12:34:56` and the IPv6 address `10:20:30:40:50:59:0:1` are sexagesimal integers,
 * `=` and `<<` are special tags. So every string is double-quoted unless it is a plain word (a letter or
 * `_`, then letters, digits, `_` or `-`) that is none of YAML 1.1's boolean or null words; a reader that
 * needs the exact string gets it, whichever YAML version it speaks. Numbers and booleans of the value stay
 * what they are.
 *
 * The `yaml` package is loaded on first use: only these rare outputs need it, and the api Lambda's cold
 * start should not pay for it.
 */

/** PyYAML's (YAML 1.1) boolean and null words, plus the single letters the YAML 1.1 spec also lists. */
const YAML11_WORDS = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$/;
const PLAIN_WORD = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Whether a string may stand unquoted and still read back as that string under YAML 1.1 and 1.2. */
export const plainSafe = (s: string): boolean => PLAIN_WORD.test(s) && !YAML11_WORDS.test(s);

/** `value` as YAML (block style, no line folding), strings quoted where YAML 1.1 would misread them; `comment` lines on top. */
export async function yaml11(value: unknown, comment?: string): Promise<string> {
  const { Document, Scalar, visit } = await import('yaml');
  const doc = new Document(value);
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !plainSafe(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  if (comment !== undefined) doc.commentBefore = comment.split('\n').map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}
