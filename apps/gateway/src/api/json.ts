import type { RequestHandler, Response } from 'express';

/**
 * Docker's client parses an error body only when Content-Type is exactly "application/json";
 * express would add "; charset=utf-8", so every JSON answer goes out through here instead.
 */
export function sendJson(res: Response, body: unknown): Response {
  const text = JSON.stringify(body);
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
  return res;
}

/** Makes `res.json()` use sendJson everywhere. */
export const exactJson: RequestHandler = (_req, res, next) => {
  res.json = (body: unknown) => sendJson(res, body);
  next();
};
