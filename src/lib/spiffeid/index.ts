export {joinPathSegments, validatePath} from './path.js'
export {SpiffeId} from './spiffe-id.js'
export {TrustDomain, trustDomainFromHostname} from './trust-domain.js'
