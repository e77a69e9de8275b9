import {updateCommand} from '../../role-holder-commands.js'

export default updateCommand('bot', 'example-workload-identity-issuer')
