// GraphQL over HTTP and graphql-transport-ws, with the bearer token kept for the session.

const TOKEN_KEY = "fpe-token";

export class ApiError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
    this.field = errors[0]?.extensions?.field;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let askToken = async () => null;
export function onTokenNeeded(fn) {
  askToken = fn;
}

export async function gql(query, variables = {}, retry = true) {
  const headers = { "content-type": "application/json" };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const response = await fetch("/graphql", {
    method: "POST", headers, body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors?.length) {
    const error = new ApiError(body.errors);
    if (error.code === "UNAUTHENTICATED" && retry) {
      const given = await askToken();
      if (given) {
        setToken(given);
        return gql(query, variables, false);
      }
    }
    throw error;
  }
  return body.data;
}

// A subscription as an async callback stream; returns a function that stops it.
export function subscribe(query, variables, { next, complete, error }) {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const ws = new WebSocket(url, "graphql-transport-ws");
  let done = false;
  ws.onopen = () => {
    const payload = token() ? { authorization: `Bearer ${token()}` } : {};
    ws.send(JSON.stringify({ type: "connection_init", payload }));
  };
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "connection_ack") {
      ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
    } else if (data.type === "next") {
      if (data.payload.errors) error?.(new ApiError(data.payload.errors));
      else next(data.payload.data);
    } else if (data.type === "error") {
      error?.(new ApiError(data.payload));
    } else if (data.type === "complete") {
      done = true;
      ws.close();
      complete?.();
    }
  };
  ws.onclose = (event) => {
    if (!done) error?.(new Error(event.code === 4403 ? "a valid token is required"
      : `connection closed (${event.code})`));
  };
  return () => {
    done = true;
    ws.close();
  };
}
