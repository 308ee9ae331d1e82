/**
 * The audience builder: groups of "has all / any / none of these tags" and the same for attributes, joined by
 * AND or OR, each group optionally negated; or a condition written as JSON; or everyone. It only writes the
 * condition language of docs/audience.md: the API checks it (and names the field that is wrong).
 */
import type { FormValues } from './form.ts';

export const MAX_GROUPS = 10;

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** `city=Paris, level=3` → {city: 'Paris', level: '3'}; a part without `=` is an error. */
function attrs(text: string, what: string): Record<string, string> | undefined {
  const pairs = list(text.replace(/\n/g, ','));
  if (!pairs.length) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new FormError(`${what}: write name=value pairs separated by commas (got "${pair}")`);
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

export class FormError extends Error {}

export const groupCount = (v: FormValues) => Math.min(MAX_GROUPS, Math.max(1, Number(v.groups) || 1));

/** The audience the form describes: "all" or a condition. */
export function audienceOf(v: FormValues): unknown {
  const mode = v.audienceMode ?? 'all';
  if (mode === 'all') return 'all';
  if (mode === 'json') {
    const text = (v.audienceJson ?? '').trim();
    if (!text) return 'all';
    try {
      return JSON.parse(text);
    } catch {
      throw new FormError('Condition (JSON): not valid JSON');
    }
  }
  const groups: unknown[] = [];
  for (let g = 0; g < groupCount(v); g++) {
    const at = (k: string) => v[`g${g}.${k}`] ?? '';
    const clauses: unknown[] = [];
    const tagsAll = list(at('tagsAll'));
    const tagsAny = list(at('tagsAny'));
    const tagsNone = list(at('tagsNone'));
    if (tagsAll.length) clauses.push({ TagsAnd: tagsAll });
    if (tagsAny.length) clauses.push({ TagsOr: tagsAny });
    if (tagsNone.length) clauses.push({ not: { TagsOr: tagsNone } });
    const label = `Group ${g + 1}`;
    const attrsAll = attrs(at('attrsAll'), `${label}, attributes (all of)`);
    const attrsAny = attrs(at('attrsAny'), `${label}, attributes (any of)`);
    const attrsNone = attrs(at('attrsNone'), `${label}, attributes (none of)`);
    if (attrsAll) clauses.push({ AttrsAnd: attrsAll });
    if (attrsAny) clauses.push({ AttrsOr: attrsAny });
    if (attrsNone) clauses.push({ not: { AttrsOr: attrsNone } });
    if (!clauses.length) continue;
    const group = clauses.length === 1 ? clauses[0] : { all: clauses };
    groups.push(at('negate') === 'on' ? { not: group } : group);
  }
  if (!groups.length) return 'all';
  if (groups.length === 1) return groups[0];
  return v.combine === 'any' ? { any: groups } : { all: groups };
}

function Text(props: { v: FormValues; name: string; label: string; hint: string }) {
  const id = props.name.replace('.', '-');
  return (
    <div>
      <label for={id}>{props.label}</label>
      <span class="hint" id={`${id}-hint`}>
        {props.hint}
      </span>
      <input
        aria-describedby={`${id}-hint`}
        id={id}
        name={props.name}
        value={props.v[props.name] ?? ''}
        autocomplete="off"
      />
    </div>
  );
}

export function AudienceFieldset(props: { v: FormValues }) {
  const { v } = props;
  const mode = v.audienceMode ?? 'all';
  const n = groupCount(v);
  return (
    <fieldset>
      <legend>Audience</legend>
      <div role="radiogroup" aria-label="Who receives it">
        {(
          [
            ['all', 'Everyone'],
            ['build', 'Accounts matching tags and attributes'],
            ['json', 'A condition written as JSON'],
          ] as const
        ).map(([value, text]) => (
          <label class="inline">
            <input type="radio" name="audienceMode" value={value} checked={mode === value} />
            {text}
          </label>
        ))}
      </div>
      <input type="hidden" name="groups" value={String(n)} />
      <div class="row">
        <label for="combine">Groups combine with</label>
        <select id="combine" name="combine" class="narrow">
          <option value="all" selected={v.combine !== 'any'}>
            AND: every group matches
          </option>
          <option value="any" selected={v.combine === 'any'}>
            OR: any group matches
          </option>
        </select>
      </div>
      {Array.from({ length: n }, (_, g) => (
        <fieldset>
          <legend>Group {g + 1}</legend>
          <label class="inline">
            <input type="checkbox" name={`g${g}.negate`} checked={v[`g${g}.negate`] === 'on'} />
            NOT: accounts that do not match this group
          </label>
          <div class="grid">
            <Text v={v} name={`g${g}.tagsAll`} label="Has all of these tags" hint="comma-separated" />
            <Text v={v} name={`g${g}.tagsAny`} label="Has any of these tags" hint="comma-separated" />
            <Text v={v} name={`g${g}.tagsNone`} label="Has none of these tags" hint="comma-separated" />
            <Text
              v={v}
              name={`g${g}.attrsAll`}
              label="Attributes, all of"
              hint="name=value, comma-separated"
            />
            <Text
              v={v}
              name={`g${g}.attrsAny`}
              label="Attributes, any of"
              hint="name=value, comma-separated"
            />
            <Text
              v={v}
              name={`g${g}.attrsNone`}
              label="Attributes, none of"
              hint="name=value, comma-separated"
            />
          </div>
        </fieldset>
      ))}
      <div class="actions">
        {n < MAX_GROUPS && (
          <button type="submit" name="step" value="addGroup" class="secondary" formnovalidate>
            Add a group
          </button>
        )}
        {n > 1 && (
          <button type="submit" name="step" value="removeGroup" class="secondary" formnovalidate>
            Remove the last group
          </button>
        )}
      </div>
      <label for="audienceJson">Condition (JSON)</label>
      <span class="hint" id="audienceJson-hint">
        used when "A condition written as JSON" is chosen, e.g.{' '}
        {'{"any":[{"TagsAnd":["vip"]},{"AttrsAnd":{"level":"3"}}]}'}
      </span>
      <textarea id="audienceJson" name="audienceJson" aria-describedby="audienceJson-hint">
        {v.audienceJson ?? ''}
      </textarea>
    </fieldset>
  );
}
