import {removeCommand} from '../../role-holder-commands.js'

export default removeCommand('bot', 'Deletes a bot, its join tokens and its instances (their identities are refused from then on).')
