/**
 * The credentials form of each channel, made from the channel's own PUT body schema (delivery/registry.ts):
 * a text field per short string, a text area (or a file to upload) per key or JSON document, a checkbox per
 * boolean. A channel added to the registry gets its form without a change here. Nothing stored is ever put
 * back into these fields.
 */
import { z } from 'zod';
import type { Channel } from '../../delivery/channel.ts';

interface Prop {
  name: string;
  kind: 'line' | 'text' | 'json' | 'number' | 'boolean' | 'choice';
  required: boolean;
  description?: string | undefined;
  choices?: string[];
}

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  pattern?: string;
  maxLength?: number;
  format?: string;
  enum?: unknown[];
  description?: string;
};

export function credentialFields(channel: Channel): Prop[] {
  const schema = z.toJSONSchema(channel.credentialsSchema, {
    unrepresentable: 'any',
    io: 'input',
  }) as JsonSchema;
  return Object.entries(schema.properties ?? {}).map(([name, p]) => {
    const required = schema.required?.includes(name) ?? false;
    const base = { name, required, description: p.description };
    if (p.enum) return { ...base, kind: 'choice', choices: p.enum.map(String) };
    if (p.type === 'object' || p.type === 'array') return { ...base, kind: 'json' };
    if (p.type === 'number' || p.type === 'integer') return { ...base, kind: 'number' };
    if (p.type === 'boolean') return { ...base, kind: 'boolean' };
    const short = p.pattern?.startsWith('^') || (p.maxLength !== undefined && p.maxLength <= 255) || p.format;
    return { ...base, kind: short ? 'line' : 'text' };
  });
}

const fieldId = (channel: string, name: string) => `cred-${channel}-${name}`;

export function CredentialsForm(props: { channel: Channel; csrf: string }) {
  const { channel } = props;
  return (
    <form
      method="post"
      action={`/console/settings/credentials/${channel.name}`}
      enctype="multipart/form-data"
      autocomplete="off"
    >
      <input type="hidden" name="_csrf" value={props.csrf} />
      {credentialFields(channel).map((f) => {
        const id = fieldId(channel.name, f.name);
        const hint = [f.description, f.required ? 'required' : 'optional'].filter(Boolean).join(' · ');
        const label = (
          <>
            <label for={id}>{f.name}</label>
            <span class="hint" id={`${id}-hint`}>
              {hint}
            </span>
          </>
        );
        if (f.kind === 'boolean')
          return (
            <label class="inline">
              <input type="checkbox" name={f.name} /> {f.name}
            </label>
          );
        if (f.kind === 'choice')
          return (
            <div>
              {label}
              <select aria-describedby={`${id}-hint`} id={id} name={f.name} class="narrow">
                {f.choices?.map((c) => (
                  <option value={c}>{c}</option>
                ))}
              </select>
            </div>
          );
        if (f.kind === 'text' || f.kind === 'json')
          return (
            <div>
              {label}
              <textarea
                aria-describedby={`${id}-hint`}
                id={id}
                name={f.name}
                spellcheck={false}
                placeholder={f.kind === 'json' ? 'paste the JSON' : 'paste the text'}
              />
              <label for={`${id}-file`} class="hint">
                …or upload the file
              </label>
              <input id={`${id}-file`} name={`${f.name}.file`} type="file" />
            </div>
          );
        return (
          <div>
            {label}
            <input
              aria-describedby={`${id}-hint`}
              id={id}
              name={f.name}
              type={f.kind === 'number' ? 'number' : 'text'}
              spellcheck={false}
            />
          </div>
        );
      })}
      <div class="actions">
        <button type="submit">Save {channel.label} credentials</button>
      </div>
    </form>
  );
}

export class CredentialsFormError extends Error {}

/** The PUT body a submitted credentials form describes (an uploaded file wins over the pasted text). */
export async function credentialsBody(
  channel: Channel,
  form: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const body: Record<string, unknown> = {};
  for (const f of credentialFields(channel)) {
    const file = form[`${f.name}.file`];
    let text = typeof form[f.name] === 'string' ? (form[f.name] as string) : '';
    if (file instanceof File && file.size > 0) text = await file.text();
    if (f.kind === 'boolean') {
      body[f.name] = text === 'on';
      continue;
    }
    if (!text.trim()) continue;
    if (f.kind === 'json') {
      try {
        body[f.name] = JSON.parse(text);
      } catch {
        throw new CredentialsFormError(`${f.name}: not valid JSON`);
      }
    } else if (f.kind === 'number') body[f.name] = Number(text);
    else body[f.name] = f.kind === 'text' ? text : text.trim();
  }
  return body;
}
