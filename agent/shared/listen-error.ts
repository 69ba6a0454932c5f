/** Turns a bind failure into one sentence an operator can act on. */
export function listenError(what: string, address: string, port: number, err: NodeJS.ErrnoException): Error {
  const where = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  if (err.code === 'EADDRINUSE') return new Error(`${what} address ${where} is already in use by another process`);
  if (err.code === 'EACCES') return new Error(`${what} address ${where}: permission denied (ports below 1024 need privileges)`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${what} address ${where} is not an address of this machine`);
  return new Error(`${what} could not listen on ${where}: ${err.message}`);
}
