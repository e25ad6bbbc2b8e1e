// Slotwise on Azure: a Flex Consumption Function App with a user-assigned identity, and everything it
// reads through that identity (no keys anywhere): Storage (queues, the deployment package, host
// state), Cosmos DB, Batch, Key Vault, Application Insights. Structure and names follow Microsoft's
// azd Functions samples (abbreviations.json prefixes, resourceToken, tags azd-env-name/azd-service-name).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags derive from it.')
param environmentName string

@minLength(1)
@description('Region for every resource. Only regions that offer Flex Consumption are allowed (the list of Microsoft\'s Flex Consumption azd sample, Azure-Samples/functions-quickstart-typescript-azd): another region would fail at the plan, after Cosmos DB and Batch were created.')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

@description('Id of the user running azd: gets the data roles to administer tenants with the admin CLI.')
param principalId string = ''

@description('What principalId is (azd sets AZURE_PRINCIPAL_TYPE: User, or ServicePrincipal in CI); stated so a new principal is not looked up before it has replicated.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Cosmos DB capacity mode: serverless costs nothing at rest.')
param cosmosServerless bool = true

@description('Origins allowed to call the API from a browser, comma-separated (the dashboard is served by the app itself). A string, not an array: every azd version passes it as it is.')
param dashboardOrigins string = ''

@description('Pool allocation mode of the Batch account, fixed when the account is created. BatchService (default): Batch holds the VMs; Spot (low-priority) nodes are retired there, so jobs asking for them are refused. UserSubscription: VMs in this subscription, Spot allowed; needs batchServicePrincipalId.')
@allowed(['BatchService', 'UserSubscription'])
param batchPoolAllocationMode string = 'BatchService'

@description('User subscription mode only: object id of the "Microsoft Azure Batch" service principal in this tenant (az ad sp show --id ddbf3205-c6bd-46ae-8127-60eb93363864 --query id -o tsv).')
param batchServicePrincipalId string = ''

@description('User subscription mode only: give the Batch service principal the Azure Batch Service Orchestration Role on the subscription. Set false when the subscription already has it (a role may be assigned only once per principal and scope).')
param assignBatchServiceRole bool = true

@description('User-assigned identities tenants may give their managed pools (pool.identity, once the operator grants one to a tenant), comma-separated resource ids (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>; any resource group or subscription of this directory). The app gets Managed Identity Operator on each, without which Batch refuses to attach it to a pool. A string, not an array: every azd version passes it as it is.')
param poolIdentityIds string = ''

@description('Subnets tenants may put their managed pools in (pool.network.subnetId, once granted to a tenant), comma-separated resource ids (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>), in the Batch account\'s subscription and region as Batch requires. The app gets a custom role with only the subnet\'s join and read actions on each; creating that role needs Owner or User Access Administrator on the subscription.')
param poolSubnetIds string = ''

@description('Batch accounts beside the primary one, for more Batch quota (cores, pools and jobs are counted per account, and a subscription has a few accounts per region): each { location: \'<region>\', weight?: <int, default 1>, poolAllocationMode?: \'BatchService\' (default) or \'UserSubscription\', name?: \'<account name>\' } gets a Batch account in its region with the links and roles the primary has, named ba<token><n> (n: its place in the array, from 1) unless it names its own. docs/operations.md, "Adding a Batch account".')
param additionalBatchAccounts array = []

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var allowedOrigins = filter(map(split(dashboardOrigins, ','), o => trim(o)), o => !empty(o))
var userSubscriptionBatch = batchPoolAllocationMode == 'UserSubscription'
// Resource ids compare ignoring case: lower case, so a repeated id (in any case) is granted once and a
// role assignment keeps its name from one run to the next.
var poolIdentityIdList = union(filter(map(split(poolIdentityIds, ','), i => toLower(trim(i))), i => !empty(i)), [])
var poolSubnetIdList = union(filter(map(split(poolSubnetIds, ','), i => toLower(trim(i))), i => !empty(i)), [])
// Azure Batch Service Orchestration Role: what the Batch service needs in a user-subscription account's
// subscription (VMs, disks, networking for pools). Id from test/fixtures/azure/batch-builtin-roles.json.
var batchServiceOrchestrationRole = 'a35466a1-cfd6-450a-b35e-683fcdf30363'
// The accounts beside the primary one, defaults filled in (union: the later object's properties win;
// learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-object#union). Computed from
// parameters only, so the module loop below can iterate it (a loop's array must be known when the
// deployment starts: learn.microsoft.com/azure/azure-resource-manager/bicep/loops). Named by place,
// from 1: an entry that names its own account keeps it when an entry before it is removed.
var extraBatchAccounts = [for (a, i) in additionalBatchAccounts: union({
  name: '${abbrs.batchBatchAccounts}${resourceToken}${i + 1}'
  weight: 1
  poolAllocationMode: 'BatchService'
}, a)]
var extraUserSubscriptionBatch = !empty(filter(extraBatchAccounts, a => a.poolAllocationMode == 'UserSubscription'))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module cosmos 'app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
    location: location
    tags: tags
    serverless: cosmosServerless
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module batch 'app/batch.bicep' = {
  name: 'batch'
  scope: rg
  params: {
    name: '${abbrs.batchBatchAccounts}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    poolAllocationMode: batchPoolAllocationMode
    batchServicePrincipalId: batchServicePrincipalId
    storageAccountName: storage.outputs.name
    identityName: '${abbrs.managedIdentityUserAssignedIdentities}batch-${resourceToken}'
    keyVaultName: '${abbrs.keyVaultVaults}b${resourceToken}'
  }
  // In user subscription mode Batch creates VMs in this subscription as soon as a pool is asked for.
  dependsOn: [batchServiceRole]
}

// The accounts beside the primary one: the same module as the primary, so each gets what the primary has
// (its own identity, the app's storage linked as auto-storage, Azure Batch Data Contributor for the app,
// Azure Batch Account Reader for the operator, and in user subscription mode a vault of its own in its
// region). Module loop with an index: learn.microsoft.com/azure/azure-resource-manager/bicep/loops.
module extraBatch 'app/batch.bicep' = [for (account, i) in extraBatchAccounts: {
  name: 'batch-${i + 1}'
  scope: rg
  params: {
    name: account.name
    location: account.location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    poolAllocationMode: account.poolAllocationMode
    batchServicePrincipalId: batchServicePrincipalId
    storageAccountName: storage.outputs.name
    identityName: '${abbrs.managedIdentityUserAssignedIdentities}batch-${account.name}'
    // Key Vault names are 3 to 24 characters: 'kv-b' and at most 20 of the account's.
    keyVaultName: '${abbrs.keyVaultVaults}b${take(account.name, 20)}'
  }
  dependsOn: [batchServiceRole]
}]

// One assignment for the subscription, when any account (the primary or another) is in user subscription mode.
resource batchServiceRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if ((userSubscriptionBatch || extraUserSubscriptionBatch) && assignBatchServiceRole) {
  name: guid(subscription().id, batchServicePrincipalId, batchServiceOrchestrationRole)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', batchServiceOrchestrationRole)
    principalId: batchServicePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// What managed pools need beyond the Batch account: the identities and subnets they may use.
module poolGrants 'app/pool-grants.bicep' = {
  // Nested deployments at subscription scope share one namespace per subscription: one name per environment.
  name: 'pool-grants-${resourceToken}'
  params: {
    appPrincipalId: identity.outputs.principalId
    poolIdentityIds: poolIdentityIdList
    poolSubnetIds: poolSubnetIdList
    roleNameSuffix: '${environmentName}, ${resourceToken}'
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    // azd finds the deploy target by this tag: on the site only (api.bicep), never on the plan.
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabase: cosmos.outputs.databaseName
    batchEndpoint: batch.outputs.endpoint
    batchAccountName: batch.outputs.name
    keyVaultUri: keyVault.outputs.uri
    allowedOrigins: allowedOrigins
    batchPoolAllocationMode: batch.outputs.poolAllocationMode
    batchRegion: location
    // The accounts beside the primary one as the app reads them (SLOTWISE_BATCH_ACCOUNTS; no key: the app
    // signs in with its identity; subscription, resource group and management endpoint are the primary's).
    // A loop as a property value may read module outputs (only a variable's loop may not):
    // learn.microsoft.com/azure/azure-resource-manager/bicep/loops, and Bicep's BCP182.
    additionalBatchAccounts: [for (account, i) in extraBatchAccounts: {
      name: extraBatch[i].outputs.name
      endpoint: extraBatch[i].outputs.endpoint
      region: account.location
      allocationMode: extraBatch[i].outputs.poolAllocationMode
      weight: account.weight
    }]
  }
  // The module outputs used above already order the app after every module, role assignments included.
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SLOTWISE_URL string = 'https://${api.outputs.defaultHostName}/api'
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output KEY_VAULT_URI string = keyVault.outputs.uri
output BATCH_ENDPOINT string = batch.outputs.endpoint
output BATCH_ACCOUNT_NAME string = batch.outputs.name
output BATCH_POOL_ALLOCATION_MODE string = batch.outputs.poolAllocationMode
output BATCH_REGION string = location
// For the admin scripts (account:drain, tenant:add --batch-accounts) after `eval "$(azd env get-values)"`.
output SLOTWISE_BATCH_ACCOUNTS string = api.outputs.batchAccounts
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
