/**
 * Tencent's request formats → Herald's native inputs: MsgBody → message elements, OfflinePushInfo → offline
 * options, Condition → audience, an im_push body → a PushInput. Only the shapes of Tencent's fields are checked
 * here; every rule (lengths, limits, what a URL is …) is the native schema's or db function's, and its refusal
 * is restated with the Tencent field name so ErrorInfo points at what the caller sent. Tencent's own
 * restrictions on a condition (tags and attributes not mixed, ≤10 tags per list, no tag in both TagsAnd and
 * TagsOr) live here and nowhere else.
 */
import type { z } from 'zod';
import type { FieldPath } from '../../core/errors.ts';
import { utf8Bytes } from '../../core/messages.ts';
import {
  type Condition,
  ConditionError,
  conditionUsesTagsAndAttrs,
  MAX_TAG_BYTES,
  validateCondition,
} from '../../db/conditions.ts';
import { type PushInput, pushInputSchema } from '../../pushes/service.ts';
import { TencentFailure } from './errors.ts';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Keys whose object is a data map (a name → value per entry), not a struct of optional fields: a null entry in
 * one is a value the caller sent, refused as such, and never dropped.
 */
const DATA_MAPS = new Set(['AttrNames', 'Attrs', 'AttrsAnd', 'AttrsOr', 'AttrsNot']);

/**
 * A Tencent body with every member whose value is null removed, at any depth: server SDKs in typed languages
 * (Go structs without `omitempty`, Java beans serialised with nulls) send null for each field they do not set,
 * and Tencent reads that as absent. So an optional field sent as null is absent, and a required one sent as
 * null is missing (the same error). Array elements are kept as sent (a null in a list is a bad element), as are
 * the entries of the data maps above; the maps themselves, as members of a struct, are dropped when null.
 */
export function withoutNulls(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutNulls(v));
  if (!isObject(value)) return value;
  const map = key !== undefined && DATA_MAPS.has(key);
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null && !map) continue;
    out[k] = map ? v : withoutNulls(v, k);
  }
  return out;
}

/** Drops undefined members, so the stored push reads as what was sent. */
function compact<T extends Json>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A required array field, else `invalid_request` naming it. */
export function arrayField(body: Json, name: string): unknown[] {
  const v = body[name];
  if (!Array.isArray(v)) throw new TencentFailure('invalid_request', [name], 'must be an array');
  return v;
}

/** Each member of an array field must be an object. */
export function objectItems(body: Json, name: string): Json[] {
  return arrayField(body, name).map((item, i) => {
    if (!isObject(item)) throw new TencentFailure('invalid_request', [name, i], 'must be an object');
    return item;
  });
}

// ——— MsgBody ———

/** The Tencent MsgTypes im_push takes, and the native element each becomes. */
export const MSG_TYPES = [
  'TIMTextElem',
  'TIMCustomElem',
  'TIMLocationElem',
  'TIMFaceElem',
  'TIMSoundElem',
  'TIMImageElem',
  'TIMFileElem',
  'TIMVideoFileElem',
] as const;

interface Translated {
  element: Json;
  /** Native element field → the Tencent field it came from, under MsgContent (for error messages). */
  fields: Record<string, FieldPath>;
}

/** Tencent sends 0 for an unknown width / height; Herald leaves them out. */
const positive = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);

function translateElement(type: string, c: Json): Translated | undefined {
  switch (type) {
    case 'TIMTextElem':
      return { element: { type: 'text', text: c.Text }, fields: { text: ['Text'] } };
    case 'TIMCustomElem':
      return {
        element: compact({ type: 'custom', data: c.Data, desc: c.Desc, ext: c.Ext, sound: c.Sound }),
        fields: { data: ['Data'], desc: ['Desc'], ext: ['Ext'], sound: ['Sound'] },
      };
    case 'TIMLocationElem':
      return {
        element: compact({ type: 'location', latitude: c.Latitude, longitude: c.Longitude, desc: c.Desc }),
        fields: { latitude: ['Latitude'], longitude: ['Longitude'], desc: ['Desc'] },
      };
    case 'TIMFaceElem':
      return {
        element: compact({ type: 'face', index: c.Index, data: c.Data }),
        fields: { index: ['Index'], data: ['Data'] },
      };
    case 'TIMSoundElem':
      return {
        element: compact({ type: 'sound', url: c.Url, seconds: c.Second, size: c.Size }),
        fields: { url: ['Url'], seconds: ['Second'], size: ['Size'] },
      };
    case 'TIMFileElem':
      return {
        element: compact({ type: 'file', url: c.Url, name: c.FileName, size: c.FileSize }),
        fields: { url: ['Url'], name: ['FileName'], size: ['FileSize'] },
      };
    case 'TIMVideoFileElem':
      return {
        element: compact({ type: 'video', url: c.VideoUrl, thumbUrl: c.ThumbUrl, seconds: c.VideoSecond }),
        fields: { url: ['VideoUrl'], thumbUrl: ['ThumbUrl'], seconds: ['VideoSecond'] },
      };
    case 'TIMImageElem': {
      // ImageInfoArray holds the original (Type 1), the large (2) and the thumbnail (3): the original is the image.
      const infos = Array.isArray(c.ImageInfoArray) ? c.ImageInfoArray : [];
      let k = infos.findIndex((x) => isObject(x) && x.Type === 1 && x.URL !== undefined);
      if (k < 0) k = infos.findIndex((x) => isObject(x) && x.URL !== undefined);
      const info: Json = k >= 0 && isObject(infos[k]) ? (infos[k] as Json) : {};
      const at: FieldPath = k >= 0 ? ['ImageInfoArray', k] : ['ImageInfoArray'];
      return {
        element: compact({
          type: 'image',
          url: info.URL,
          width: positive(info.Width),
          height: positive(info.Height),
        }),
        fields: { url: [...at, 'URL'], width: [...at, 'Width'], height: [...at, 'Height'] },
      };
    }
    default:
      return undefined;
  }
}

/** MsgBody → native elements, one for one, with the Tencent field of each native one. */
export function translateMsgBody(msgBody: unknown): Translated[] {
  if (!Array.isArray(msgBody))
    throw new TencentFailure(
      'msg_body_not_array',
      ['MsgBody'],
      'must be an array of {"MsgType", "MsgContent"}',
    );
  return msgBody.map((item, i) => {
    const at = ['MsgBody', i];
    if (!isObject(item) || !isObject(item.MsgContent) || typeof item.MsgType !== 'string')
      throw new TencentFailure('msg_body_invalid', at, 'must be {"MsgType": "…", "MsgContent": {…}}');
    const translated = translateElement(item.MsgType, item.MsgContent);
    if (!translated)
      throw new TencentFailure(
        'msg_body_invalid',
        [...at, 'MsgType'],
        `${JSON.stringify(item.MsgType)} is not a MsgType im_push takes (${MSG_TYPES.join(', ')})`,
      );
    return translated;
  });
}

// ——— OfflinePushInfo ———

/** `www.image.com` (as in Tencent's own example) → `https://www.image.com`; Herald stores absolute URLs. */
const absoluteUrl = (v: unknown) =>
  typeof v === 'string' && v !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(v) ? `https://${v}` : v;

const flag = (v: unknown, path: FieldPath, what: string): boolean | undefined => {
  if (v === undefined || v === 0) return undefined;
  if (v === 1) return true;
  throw new TencentFailure('invalid_request', path, `must be 0 or 1 (${what})`);
};

/** Native offline field path (keys joined by dots) → Tencent's, under OfflinePushInfo. */
const OFFLINE_FIELDS: Record<string, FieldPath> = {
  push: ['PushFlag'],
  title: ['Title'],
  body: ['Desc'],
  ext: ['Ext'],
  'apns.title': ['ApnsInfo', 'Title'],
  'apns.subtitle': ['ApnsInfo', 'SubTitle'],
  'apns.image': ['ApnsInfo', 'Image'],
  'apns.mutableContent': ['ApnsInfo', 'MutableContent'],
  'apns.sound': ['ApnsInfo', 'Sound'],
  'android.sound': ['AndroidInfo', 'Sound'],
  'android.channelId': ['AndroidInfo', 'GoogleChannelID'],
  'hms.channelId': ['AndroidInfo', 'HuaWeiChannelID'],
  'hms.importance': ['AndroidInfo', 'HuaWeiImportance'],
  'hms.category': ['AndroidInfo', 'HuaWeiCategory'],
  'hms.extAsIntentParams': ['AndroidInfo', 'ExtAsHuaweiIntentParam'],
  'honor.importance': ['AndroidInfo', 'HonorImportance'],
  'xiaomi.channelId': ['AndroidInfo', 'XiaoMiChannelID'],
  'oppo.channelId': ['AndroidInfo', 'OPPOChannelID'],
  'oppo.category': ['AndroidInfo', 'OPPOCategory'],
  'oppo.notifyLevel': ['AndroidInfo', 'OPPONotifyLevel'],
  'vivo.classification': ['AndroidInfo', 'VIVOClassification'],
  'vivo.category': ['AndroidInfo', 'VIVOCategory'],
};

/**
 * OfflinePushInfo → offline options. PushFlag 1 = no APNs/FCM notification; Desc is the notification text;
 * ApnsInfo.BadgeMode (0 count, 1 don't count) is accepted and leaves the badge as it is either way (Herald keeps
 * no per-user unread count); AndroidInfo's Huawei and Honor fields become `offline.hms` / `offline.honor`, its
 * Xiaomi, OPPO and vivo fields `offline.xiaomi` / `offline.oppo` / `offline.vivo` (the native schemas check them).
 */
export function translateOfflinePushInfo(info: unknown): Json | undefined {
  if (info === undefined || info === null) return undefined;
  if (!isObject(info)) throw new TencentFailure('invalid_request', ['OfflinePushInfo'], 'must be an object');
  const noPush = flag(info.PushFlag, ['OfflinePushInfo', 'PushFlag'], '0 push, 1 no offline push');
  const apnsInfo = info.ApnsInfo;
  const androidInfo = info.AndroidInfo;
  if (apnsInfo !== undefined && !isObject(apnsInfo))
    throw new TencentFailure('invalid_request', ['OfflinePushInfo', 'ApnsInfo'], 'must be an object');
  if (androidInfo !== undefined && !isObject(androidInfo))
    throw new TencentFailure('invalid_request', ['OfflinePushInfo', 'AndroidInfo'], 'must be an object');
  let apns: Json | undefined;
  if (apnsInfo) {
    flag(
      apnsInfo.BadgeMode,
      ['OfflinePushInfo', 'ApnsInfo', 'BadgeMode'],
      '0 count, 1 do not count toward the badge',
    );
    const mutable = flag(
      apnsInfo.MutableContent,
      ['OfflinePushInfo', 'ApnsInfo', 'MutableContent'],
      '1 = notification service extension',
    );
    apns = compact({
      title: apnsInfo.Title,
      subtitle: apnsInfo.SubTitle,
      image: absoluteUrl(apnsInfo.Image),
      mutableContent: mutable,
      sound: apnsInfo.Sound,
    });
  }
  const android = androidInfo
    ? compact({ sound: androidInfo.Sound, channelId: androidInfo.GoogleChannelID })
    : undefined;
  // Huawei's fields; ExtAsHuaweiIntentParam 1 puts Ext into the intent of the app's Huawei click action.
  const hms = androidInfo
    ? compact({
        channelId: androidInfo.HuaWeiChannelID,
        importance: androidInfo.HuaWeiImportance,
        category: androidInfo.HuaWeiCategory,
        extAsIntentParams: flag(
          androidInfo.ExtAsHuaweiIntentParam,
          ['OfflinePushInfo', 'AndroidInfo', 'ExtAsHuaweiIntentParam'],
          '1 Ext as intent parameters, 0 as action parameters',
        ),
      })
    : undefined;
  const honor = androidInfo ? compact({ importance: androidInfo.HonorImportance }) : undefined;
  const xiaomi = androidInfo ? compact({ channelId: androidInfo.XiaoMiChannelID }) : undefined;
  const oppo = androidInfo
    ? compact({
        channelId: androidInfo.OPPOChannelID,
        category: androidInfo.OPPOCategory,
        notifyLevel: androidInfo.OPPONotifyLevel,
      })
    : undefined;
  const vivo = androidInfo
    ? compact({ classification: androidInfo.VIVOClassification, category: androidInfo.VIVOCategory })
    : undefined;
  return compact({
    push: !noPush,
    title: info.Title,
    body: info.Desc,
    ext: info.Ext,
    apns: apns && Object.keys(apns).length ? apns : undefined,
    android: android && Object.keys(android).length ? android : undefined,
    hms: hms && Object.keys(hms).length ? hms : undefined,
    honor: honor && Object.keys(honor).length ? honor : undefined,
    xiaomi: xiaomi && Object.keys(xiaomi).length ? xiaomi : undefined,
    oppo: oppo && Object.keys(oppo).length ? oppo : undefined,
    vivo: vivo && Object.keys(vivo).length ? vivo : undefined,
  });
}

// ——— Condition ———

/** The keys of Tencent's Condition (TagsNot is the successor family's "and not (C and D)"). */
export const CONDITION_KEYS = ['TagsAnd', 'TagsOr', 'TagsNot', 'AttrsAnd', 'AttrsOr'] as const;
/** Tencent: at most 10 tags in one list of a condition (90032). */
export const MAX_CONDITION_TAGS = 10;

/**
 * Condition → a native audience condition (null = everyone). The native validator decides what a valid tag or
 * attribute is; this adds Tencent's own restrictions, which Herald's /v1 API does not have.
 */
export function translateCondition(input: unknown): Condition | null {
  if (input === undefined || input === null) return null;
  if (!isObject(input)) throw new TencentFailure('invalid_request', ['Condition'], 'must be an object');
  // No keys (or, as typed SDKs send it, only null ones): no condition, everyone, as when Condition is absent.
  if (Object.keys(input).length === 0) return null;
  for (const key of Object.keys(input))
    if (!(CONDITION_KEYS as readonly string[]).includes(key))
      throw new TencentFailure(
        'invalid_request',
        ['Condition', key],
        `not a key of Condition (${CONDITION_KEYS.join(', ')}); Herald's /v1 API has nested conditions`,
      );
  let condition: Condition;
  try {
    condition = validateCondition(input);
  } catch (err) {
    if (!(err instanceof ConditionError)) throw err;
    throw err.at(['Condition']).with({ reason: tagReason(input, err.path) });
  }
  const uses = conditionUsesTagsAndAttrs(condition);
  if (uses.tags && uses.attrs)
    throw new TencentFailure(
      'tags_and_attrs_mixed',
      ['Condition'],
      'tags (TagsAnd, TagsOr, TagsNot) and attributes (AttrsAnd, AttrsOr) cannot be used together',
    );
  for (const key of ['TagsAnd', 'TagsOr', 'TagsNot'] as const) {
    const tags = condition[key];
    if (tags && tags.length > MAX_CONDITION_TAGS)
      throw new TencentFailure(
        'too_many_tags',
        ['Condition', key],
        `at most ${MAX_CONDITION_TAGS} tags, got ${tags.length}`,
      );
  }
  const and = new Set(condition.TagsAnd ?? []);
  const both = (condition.TagsOr ?? []).find((t) => and.has(t));
  if (both !== undefined)
    throw new TencentFailure(
      'duplicate_condition_tag',
      ['Condition'],
      `the tag ${JSON.stringify(both)} is in both TagsAnd and TagsOr`,
    );
  return condition;
}

/** Why the native validator refused the tag at `path` (`['TagsOr', 2]`): empty or too long, if either. */
function tagReason(input: Json, path: FieldPath): 'empty' | 'too_long' | undefined {
  const [key, index] = path;
  if (path.length !== 2 || typeof index !== 'number') return undefined;
  if (key !== 'TagsAnd' && key !== 'TagsOr' && key !== 'TagsNot') return undefined;
  const list = input[key];
  const tag = Array.isArray(list) ? list[index] : undefined;
  if (typeof tag !== 'string') return undefined;
  if (tag === '') return 'empty';
  return utf8Bytes(tag) > MAX_TAG_BYTES ? 'too_long' : undefined;
}

// ——— im_push ———

export interface TranslatedPush {
  input: PushInput;
  msgRandom: number;
}

/**
 * An im_push body → the native push input, validated by the native schema. From_Account defaults to the admin
 * account that signed the request (Tencent shows the admin as the sender); MsgLifeTime is the retention.
 */
export function translatePush(body: Json, identifier: string): TranslatedPush {
  const msgRandom = body.MsgRandom;
  if (
    typeof msgRandom !== 'number' ||
    !Number.isInteger(msgRandom) ||
    msgRandom < 0 ||
    msgRandom > 0xffff_ffff
  )
    throw new TencentFailure(
      'msg_random_invalid',
      ['MsgRandom'],
      'required, an integer from 0 to 4294967295',
    );
  const elements = translateMsgBody(body.MsgBody);
  const audience = translateCondition(body.Condition);
  const offline = translateOfflinePushInfo(body.OfflinePushInfo);
  const raw = compact({
    audience: audience ?? 'all',
    message: compact({
      elements: elements.map((e) => e.element),
      from: body.From_Account === undefined ? identifier : body.From_Account,
    }),
    offline,
    retentionSeconds: body.MsgLifeTime,
  });
  const parsed = pushInputSchema.safeParse(raw);
  if (parsed.success) return { input: parsed.data, msgRandom };
  const [issue, ...more] = parsed.error.issues;
  const path = issue ? tencentPushPath(issue.path, elements) : ['MsgBody'];
  const others = more.length ? ` (and ${more.length} more problem${more.length > 1 ? 's' : ''})` : '';
  throw new TencentFailure('invalid_request', path, `${issue?.message ?? 'invalid'}${others}`);
}

/** A native issue path (`message.elements.0.text`) in Tencent's names (`MsgBody[0].MsgContent.Text`). */
function tencentPushPath(issuePath: z.core.$ZodIssue['path'], elements: Translated[]): FieldPath {
  const path = issuePath.map((k) => (typeof k === 'symbol' ? String(k) : k));
  const [top, second, index, field] = path;
  if (top === 'retentionSeconds') return ['MsgLifeTime'];
  if (top === 'message' && second === 'from') return ['From_Account'];
  if (top === 'message' && second === 'elements') {
    if (index === undefined) return ['MsgBody'];
    const at = ['MsgBody', Number(index)];
    if (field === undefined) return at;
    const fields = elements[Number(index)]?.fields ?? {};
    return [...at, 'MsgContent', ...(fields[String(field)] ?? [field])];
  }
  if (top === 'message') return ['MsgBody'];
  if (top === 'offline')
    return ['OfflinePushInfo', ...(OFFLINE_FIELDS[path.slice(1).join('.')] ?? path.slice(1))];
  return path.length ? path : ['body'];
}
