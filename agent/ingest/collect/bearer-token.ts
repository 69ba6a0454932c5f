import { readFileSync } from 'node:fs';

/** The configured token; an empty or unreadable token file stops start-up rather than leaving the API open. */
export function readBearerToken(token: string | undefined, file: string | undefined): string | undefined {
  if (file === undefined) return token;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`http.collect.bearer_token_file: cannot read ${file}: ${(err as Error).message}`);
  }
  if (text === '') throw new Error(`http.collect.bearer_token_file: ${file} is empty`);
  return text;
}
