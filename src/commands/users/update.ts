import {updateCommand} from '../../role-holder-commands.js'

export default updateCommand('user', 'access')
