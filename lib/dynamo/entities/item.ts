/**
 * What every entity shares: the raw item type and the marshal-safe form of user-keyed maps.
 * An entity (alexdebrie's dynamodb-instagram style) owns one item type: its keys (from ../keys.ts,
 * the one key table), its `type` attribute, and the mapping item <-> domain (`toItem`/`fromItem`).
 */
export type Item = Record<string, any>;

/**
 * User-keyed maps (tags, metadata at any depth, environment slots) as the marshaller can take them.
 * @aws-sdk/util-dynamodb decides "plain object" by `value.constructor.name === 'Object'`, so an object
 * with its own `constructor` key ({"constructor": "x"}) is refused as a class instance, and it builds
 * maps by assignment. A `Map` is marshalled by its entries alone: every key is data. (`__proto__` is
 * refused at the edge, see checkNoReservedKey: it is lost by the SDK's wire serializer as well.)
 */
export function dynamoValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dynamoValue);
  if (v !== null && typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return new Map(Object.keys(v).map((k) => [k, dynamoValue((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** An item whose attribute values are marshal-safe (the item itself stays a plain object of attributes). */
export function dynamoItem(item: Item): Item {
  const out: Item = {};
  for (const k of Object.keys(item)) out[k] = dynamoValue(item[k]);
  return out;
}

/** The listed fields of an item that are set (keys, `type` and index attributes dropped). */
export function pick<F extends string>(i: Item, fields: readonly F[]): Item {
  const out: Item = {};
  for (const f of fields) if (i[f] !== undefined) out[f] = i[f];
  return out;
}
