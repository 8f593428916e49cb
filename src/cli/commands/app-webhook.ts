import { KipError } from '../../errors.js';
import type { AdminClient } from '../admin-client.js';
import { resolveApp, type AppOptions } from '../args.js';

interface WebhookState {
  enabled: boolean;
  url?: string;
  token?: string;
}

/** `kip app webhook enable|status|disable <app>`. */
export async function appWebhook(client: AdminClient, positionals: string[], options: AppOptions): Promise<string> {
  const [action, appArg] = positionals;
  const { id, name } = resolveApp(appArg, options);
  const path = `/api/v1/apps/${id}/webhook`;
  let state: WebhookState;
  switch (action) {
    case 'enable':
      state = await client.request<WebhookState>('POST', path);
      break;
    case 'status':
      state = await client.request<WebhookState>('GET', path);
      break;
    case 'disable':
      state = await client.request<WebhookState>('DELETE', path);
      break;
    default:
      throw new KipError('INVALID_BODY', 'usage: kip app webhook enable|status|disable <app>', { usage: true });
  }
  if (options.json) return JSON.stringify(state, null, 2);
  if (!state.enabled) return `✔ Webhook disabled for ${name}`;
  return [`✔ Webhook enabled for ${name}`, `Webhook URL: ${state.url}`, `Secret token: ${state.token}`].join('\n');
}
