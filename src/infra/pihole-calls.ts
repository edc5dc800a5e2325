/** Pi-hole v6 API calls as they will be made: for plans (and the demo) and for the client. */

export type DomainList = 'allow' | 'deny';

export interface ApiCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  /** The answer is read as it arrives (gravity's progress), not whole. */
  streamed?: boolean;
}

export const piholeCalls = {
  setBlocking: (enabled: boolean, timer: number | null): ApiCall => ({
    method: 'POST',
    path: '/api/dns/blocking',
    body: { blocking: enabled, timer },
  }),
  addDomain: (list: DomainList, domain: string, comment: string): ApiCall => ({
    method: 'POST',
    path: `/api/domains/${list}/exact`,
    body: { domain, comment },
  }),
  removeDomain: (list: DomainList, domain: string): ApiCall => ({
    method: 'DELETE',
    path: `/api/domains/${list}/exact/${encodeURIComponent(domain)}`,
  }),
  gravity: (): ApiCall => ({ method: 'POST', path: '/api/action/gravity', streamed: true }),
};

/** `POST http://pi1/api/dns/blocking {"blocking":false,"timer":300}` */
export function callLine(baseUrl: string, call: ApiCall): string {
  return `${call.method} ${baseUrl.replace(/\/+$/, '')}${call.path}${call.body !== undefined ? ` ${JSON.stringify(call.body)}` : ''}`;
}
