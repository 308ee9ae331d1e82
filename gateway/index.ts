export { defaultGatewayOptions, type GatewayOptions, gatewayOptionsFromConfig } from './options.ts';
export { CloseCode, PROTOCOL, TOKEN_PROTOCOL_PREFIX } from './protocol.ts';
export { createGateway, type Gateway, type GatewayDeps } from './server.ts';
