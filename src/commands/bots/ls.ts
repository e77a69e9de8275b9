import {listCommand} from '../../role-holder-commands.js'

export default listCommand('bot')
