export {
  createGateway,
  defaultGatewayOptions,
  type Gateway,
  type GatewayDeps,
  type GatewayOptions,
} from './gateway.ts';
export { CloseCode, PROTOCOL, TOKEN_PROTOCOL_PREFIX } from './protocol.ts';
